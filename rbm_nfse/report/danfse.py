"""What the DANFSe prints, read from the NFS-e XML the Sefin Nacional returned (the XML is the
legal document: nothing here comes from the invoice).

Sources:

- Layout of the DANFSe of the NFS-e Nacional (the "Documento Auxiliar da NFS-e" the national
  issuer prints: header with the NFS-e identity and the municipality, access key and QR code,
  then the blocks "Emitente da NFS-e", "Tomador do Serviço", "Intermediário do Serviço",
  "Serviço Prestado", "Tributação Municipal", "Tributação Federal", "Valor Total da NFS-e",
  "Totais Aproximados dos Tributos", "Informações Complementares"), and Nota Técnica 008/2026
  of the NFS-e Nacional (DANFSe layout 2.0 from 1 July 2026: the IBS/CBS block of the tax
  reform; the national PDF service suspended, each issuer renders its DANFSe).
- Elements and code tables: the official schemas of layout 1.01 (``NFSe_v1.01.xsd``,
  ``tiposComplexos_v1.01.xsd``, ``tiposSimples_v1.01.xsd``); names such as ``vTotalRet`` are
  theirs.
- QR code: the public consultation of the national portal,
  ``https://www.nfse.gov.br/ConsultaPublica/?tpc=1&chave=<access key>``.

The labels are the layout's own (Portuguese whatever the reader's language: the DANFSe is a
Brazilian fiscal document), so they are not translated.
"""

import datetime
import re
from decimal import Decimal, InvalidOperation

from lxml import etree

NAMESPACE = "http://www.sped.fazenda.gov.br/nfse"
CONSULTATION_URL = "https://www.nfse.gov.br/ConsultaPublica/?tpc=1&chave={key}"
# what the DANFSe of the restricted production environment (tpAmb 2) says
NO_LEGAL_VALUE = "NFS-e SEM VALIDADE JURÍDICA"
WATERMARKS = {"cancelled": "CANCELADA", "replaced": "SUBSTITUÍDA"}

# TSTribISSQN
ISS_TAXATION = {
    "1": "Operação Tributável",
    "2": "Imunidade",
    "3": "Exportação de Serviço",
    "4": "Não Incidência",
}
# TSTipoRetISSQN
ISS_WITHHOLDING = {
    "1": "Não Retido",
    "2": "Retido pelo Tomador",
    "3": "Retido pelo Intermediário",
}
# TSOpSimpNac
SIMPLES = {
    "1": "Não Optante",
    "2": "Optante - Microempreendedor Individual (MEI)",
    "3": "Optante - Microempresa ou Empresa de Pequeno Porte (ME/EPP)",
}
# TSRegimeApuracaoSimpNac
SIMPLES_APPORTIONMENT = {
    "1": "Tributos federais e municipal pelo SN",
    "2": "Tributos federais pelo SN e ISSQN pela NFS-e",
    "3": "Tributos federais e municipal pela NFS-e",
}
# TSRegEspTrib
SPECIAL_REGIMES = {
    "0": "Nenhum",
    "1": "Ato Cooperado (Cooperativa)",
    "2": "Estimativa",
    "3": "Microempresa Municipal",
    "4": "Notário ou Registrador",
    "5": "Profissional Autônomo",
    "6": "Sociedade de Profissionais",
    "9": "Outros",
}
# TSTipoRetPISCofins (layout 1.01): 1 withheld, 2 not withheld
PIS_COFINS_WITHHELD = {"1"}


class DanfseError(ValueError):
    """The document is not an NFS-e of the national layout."""


def _local(tag):
    return f"{{{NAMESPACE}}}{tag}"


def _find(element, path):
    """The element at ``path`` ("a/b/c", names without namespace), or None."""
    if element is None:
        return None
    return element.find("/".join(_local(part) for part in path.split("/")))


def _text(element, path, default=""):
    found = _find(element, path)
    return (found.text or "").strip() if found is not None else default


def _decimal(text):
    try:
        return Decimal(text) if text else None
    except InvalidOperation:
        return None


def money(value):
    """R$ 1.234,56 (a missing value prints as a dash)."""
    if value is None:
        return "-"
    sign = "-" if value < 0 else ""
    whole, cents = f"{abs(value):.2f}".split(".")
    groups = []
    while len(whole) > 3:
        groups.insert(0, whole[-3:])
        whole = whole[:-3]
    groups.insert(0, whole)
    return f"{sign}R$ {'.'.join(groups)},{cents}"


def percent(value):
    """5,00%"""
    if value is None:
        return "-"
    return f"{value:.2f}".replace(".", ",") + "%"


def date_text(text):
    """dd/mm/aaaa from an ISO date (or the date part of a date-time)."""
    if not text:
        return "-"
    try:
        return datetime.date.fromisoformat(text[:10]).strftime("%d/%m/%Y")
    except ValueError:
        return text


def datetime_text(text):
    """dd/mm/aaaa hh:mm:ss in the time (and offset) the document states."""
    if not text:
        return "-"
    try:
        return datetime.datetime.fromisoformat(text).strftime("%d/%m/%Y %H:%M:%S")
    except ValueError:
        return text


def document(value):
    """CNPJ 00.000.000/0000-00 or CPF 000.000.000-00; anything else as written."""
    digits = value or ""
    if re.fullmatch(r"[0-9A-Z]{12}\d{2}", digits):
        return f"{digits[:2]}.{digits[2:5]}.{digits[5:8]}/{digits[8:12]}-{digits[12:]}"
    if re.fullmatch(r"\d{11}", digits):
        return f"{digits[:3]}.{digits[3:6]}.{digits[6:9]}-{digits[9:]}"
    return digits or "-"


def zip_code(value):
    return f"{value[:5]}-{value[5:]}" if value and len(value) == 8 else (value or "-")


def phone(value):
    digits = value or ""
    if len(digits) in (10, 11):
        return f"({digits[:2]}) {digits[2:-4]}-{digits[-4:]}"
    return digits or "-"


def service_code(value):
    """cTribNac 010501 as the national list prints it: 01.05.01."""
    if value and re.fullmatch(r"\d{6}", value):
        return f"{value[:2]}.{value[2:4]}.{value[4:]}"
    return value or "-"


def nbs_code(value):
    """NBS 115022000 as its table prints it: 1.1502.20.00."""
    if value and re.fullmatch(r"\d{9}", value):
        return f"{value[0]}.{value[1:5]}.{value[5:7]}.{value[7:]}"
    return value or "-"


def access_key_groups(key):
    """The 50 digits in groups of four, as printed for typing."""
    return " ".join(key[i : i + 4] for i in range(0, len(key), 4))


def consultation_url(key):
    return CONSULTATION_URL.format(key=key)


def _party(element, cities):
    """Name, document, registration, contact and address of a prestador, tomador or
    intermediário (TCInfoPessoa) or of the emitente (TCEmitente)."""
    if element is None:
        return None
    national = _find(element, "end/endNac")
    foreign = _find(element, "end/endExt")
    if _find(element, "enderNac") is not None:  # emitente
        address = _find(element, "enderNac")
        street = [_text(address, "xLgr"), _text(address, "nro"), _text(address, "xCpl")]
        district = _text(address, "xBairro")
        city_code, state, cep = _text(address, "cMun"), _text(address, "UF"), _text(address, "CEP")
    else:
        street = [_text(element, "end/xLgr"), _text(element, "end/nro"), _text(element, "end/xCpl")]
        district = _text(element, "end/xBairro")
        city_code, state = _text(national, "cMun"), ""
        cep = _text(national, "CEP")
    city = cities.get(city_code) or (f"IBGE {city_code}" if city_code else "")
    if foreign is not None:
        city = " - ".join(filter(None, [_text(foreign, "xCidade"), _text(foreign, "cPais")]))
        cep = _text(foreign, "cEndPost")
    registration = _text(element, "CNPJ") or _text(element, "CPF") or _text(element, "NIF") or ""
    return {
        "name": _text(element, "xNome") or "-",
        "trade_name": _text(element, "xFant"),
        "document": document(registration) if registration else "-",
        "municipal_registration": _text(element, "IM") or "-",
        "phone": phone(_text(element, "fone")),
        "email": _text(element, "email") or "-",
        "address": ", ".join(filter(None, street + [district])) or "-",
        "city": " - ".join(filter(None, [city, state])) or "-",
        "zip": zip_code(cep) if cep else "-",
    }


def read(xml, situation=None):
    """The DANFSe of the NFS-e ``xml`` (bytes) as a dict of printable texts; ``situation``
    "cancelled" or "replaced" prints the watermark (a cancellation or a replacement is an
    event apart: the NFS-e XML itself does not say it)."""
    try:
        root = etree.fromstring(xml)
    except etree.XMLSyntaxError as error:
        raise DanfseError(f"the NFS-e XML cannot be read: {error}") from error
    info = root if root.tag == _local("infNFSe") else _find(root, "infNFSe")
    if info is None:
        raise DanfseError("the document has no infNFSe element")
    dps = _find(info, "DPS/infDPS")
    if dps is None:
        raise DanfseError("the NFS-e has no DPS")
    key = (info.get("Id") or "")[3:]
    emit_city = _text(info, "emit/enderNac/cMun")
    # the names the document states, by IBGE code
    cities = {
        _text(dps, "cLocEmi"): _text(info, "xLocEmi"),
        _text(info, "cLocIncid"): _text(info, "xLocIncid"),
        _text(dps, "serv/locPrest/cLocPrestacao"): _text(info, "xLocPrestacao"),
    }
    cities.setdefault(emit_city, _text(info, "xLocEmi"))
    cities = {code: name for code, name in cities.items() if code and name}

    values = _find(dps, "valores")
    nfse_values = _find(info, "valores")
    trib_mun = _find(values, "trib/tribMun")
    trib_fed = _find(values, "trib/tribFed")
    amount = _decimal(_text(values, "vServPrest/vServ"))
    unconditional = _decimal(_text(values, "vDescCondIncond/vDescIncond")) or Decimal(0)
    conditional = _decimal(_text(values, "vDescCondIncond/vDescCond")) or Decimal(0)
    deductions = (
        _decimal(_text(nfse_values, "vCalcDR"))
        or _decimal(_text(values, "vDedRed/vDR"))
        or Decimal(0)
    )
    withholding = _text(trib_mun, "tpRetISSQN")
    iss = _decimal(_text(nfse_values, "vISSQN"))
    iss_withheld = iss if withholding in ("2", "3") and iss is not None else Decimal(0)
    cp = _decimal(_text(trib_fed, "vRetCP")) or Decimal(0)
    irrf = _decimal(_text(trib_fed, "vRetIRRF")) or Decimal(0)
    csll = _decimal(_text(trib_fed, "vRetCSLL")) or Decimal(0)
    piscofins = _find(trib_fed, "piscofins")
    pis = _decimal(_text(piscofins, "vPis")) or Decimal(0)
    cofins = _decimal(_text(piscofins, "vCofins")) or Decimal(0)
    pis_cofins_withheld = _text(piscofins, "tpRetPisCofins") in PIS_COFINS_WITHHELD
    federal_withheld = cp + irrf + csll + (pis + cofins if pis_cofins_withheld else 0)

    regime = _find(dps, "prest/regTrib")
    simples = _text(regime, "opSimpNac")
    environment = _text(dps, "tpAmb") or _text(info, "ambGer")
    replaced_key = _text(dps, "subst/chSubstda")

    total_tax = _find(values, "trib/totTrib")
    if _find(total_tax, "vTotTrib") is not None:
        approximate = {
            "federal": money(_decimal(_text(total_tax, "vTotTrib/vTotTribFed"))),
            "state": money(_decimal(_text(total_tax, "vTotTrib/vTotTribEst"))),
            "municipal": money(_decimal(_text(total_tax, "vTotTrib/vTotTribMun"))),
        }
    elif _find(total_tax, "pTotTrib") is not None:
        approximate = {
            "federal": percent(_decimal(_text(total_tax, "pTotTrib/pTotTribFed"))),
            "state": percent(_decimal(_text(total_tax, "pTotTrib/pTotTribEst"))),
            "municipal": percent(_decimal(_text(total_tax, "pTotTrib/pTotTribMun"))),
        }
    elif _find(total_tax, "pTotTribSN") is not None:
        simples_percent = percent(_decimal(_text(total_tax, "pTotTribSN")))
        approximate = {"simples": simples_percent}
    else:
        approximate = None

    notes = [
        text
        for text in (
            _text(dps, "serv/infoCompl/xInfComp"),
            _text(info, "xOutInf"),
            f"NFS-e substituta da NFS-e de chave de acesso {replaced_key}." if replaced_key else "",
        )
        if text
    ]
    return {
        "access_key": key,
        "access_key_groups": access_key_groups(key),
        "qr_url": consultation_url(key),
        "number": _text(info, "nNFSe") or "-",
        "competence": date_text(_text(dps, "dCompet")),
        "issued_at": datetime_text(_text(info, "dhProc")),
        "dps_number": _text(dps, "nDPS") or "-",
        "dps_series": _text(dps, "serie") or "-",
        "dps_issued_at": datetime_text(_text(dps, "dhEmi")),
        "municipality": _text(info, "xLocEmi") or "-",
        "environment": environment,
        "no_legal_value": NO_LEGAL_VALUE if environment == "2" else "",
        "watermark": WATERMARKS.get(situation or "", ""),
        "emitter": {
            **(_party(_find(info, "emit"), cities) or {}),
            "simples": SIMPLES.get(simples, "-"),
            "simples_apportionment": SIMPLES_APPORTIONMENT.get(_text(regime, "regApTribSN"), "-"),
        },
        "taker": _party(_find(dps, "toma"), cities),
        "intermediary": _party(_find(dps, "interm"), cities),
        "service": {
            "national_code": service_code(_text(dps, "serv/cServ/cTribNac")),
            "national_description": _text(info, "xTribNac") or "-",
            "municipal_code": _text(dps, "serv/cServ/cTribMun") or "-",
            "municipal_description": _text(info, "xTribMun"),
            "nbs": nbs_code(_text(dps, "serv/cServ/cNBS")),
            "nbs_description": _text(info, "xNBS"),
            "place": _text(info, "xLocPrestacao") or "-",
            "description": _text(dps, "serv/cServ/xDescServ") or "-",
        },
        "municipal_tax": {
            "taxation": ISS_TAXATION.get(_text(trib_mun, "tribISSQN"), "-"),
            "incidence": _text(info, "xLocIncid") or "-",
            "special_regime": SPECIAL_REGIMES.get(_text(regime, "regEspTrib"), "-"),
            "amount": money(amount),
            "unconditional_discount": money(unconditional),
            "deductions": money(deductions),
            "base": money(_decimal(_text(nfse_values, "vBC"))),
            "rate": percent(
                _decimal(_text(nfse_values, "pAliqAplic")) or _decimal(_text(trib_mun, "pAliq"))
            ),
            "withholding": ISS_WITHHOLDING.get(withholding, "-"),
            "iss": money(iss),
        },
        "federal_tax": {
            "irrf": money(irrf),
            "cp": money(cp),
            "csll": money(csll),
            "pis": money(pis),
            "cofins": money(cofins),
            "pis_cofins_withheld": "Retidos" if pis_cofins_withheld else "Não Retidos",
        },
        "totals": {
            "amount": money(amount),
            "conditional_discount": money(conditional),
            "unconditional_discount": money(unconditional),
            "iss_withheld": money(iss_withheld),
            "federal_withheld": money(federal_withheld),
            "withheld": money(_decimal(_text(nfse_values, "vTotalRet"))),
            "net": money(_decimal(_text(nfse_values, "vLiq"))),
        },
        "ibscbs": _ibscbs(info, dps),
        "approximate_taxes": approximate,
        "notes": notes,
    }


def _ibscbs(info, dps):
    """The IBS/CBS group of the 2026 test year (LC 214/2025), when the NFS-e carries it."""
    group = _find(info, "IBSCBS")
    if group is None:
        return None
    values = _find(group, "valores")
    totals = _find(group, "totCIBS")
    declared = _find(dps, "IBSCBS")
    return {
        "incidence": _text(group, "xLocalidadeIncid") or "-",
        "operation_indicator": _text(declared, "cIndOp") or "-",
        "cst": _text(declared, "valores/trib/gIBSCBS/CST") or "-",
        "class_code": _text(declared, "valores/trib/gIBSCBS/cClassTrib") or "-",
        "base": money(_decimal(_text(values, "vBC"))),
        "ibs_state_rate": percent(_decimal(_text(values, "uf/pAliqEfetUF"))),
        "ibs_city_rate": percent(_decimal(_text(values, "mun/pAliqEfetMun"))),
        "cbs_rate": percent(_decimal(_text(values, "fed/pAliqEfetCBS"))),
        "ibs_state": money(_decimal(_text(totals, "gIBS/gIBSUFTot/vIBSUF"))),
        "ibs_city": money(_decimal(_text(totals, "gIBS/gIBSMunTot/vIBSMun"))),
        "ibs": money(_decimal(_text(totals, "gIBS/vIBSTot"))),
        "cbs": money(_decimal(_text(totals, "gCBS/vCBS"))),
        "total": money(_decimal(_text(totals, "vTotNF"))),
    }
