"""The DPS of the NFS-e Nacional, and the cancellation event, built, checked, signed and packed.

Sources cited next to each rule:

- XSD: the official schemas of layout 1.01 shipped in ``nfelib`` (``DPS_v1.01.xsd``,
  ``tiposComplexos_v1.01.xsd``, ``tiposSimples_v1.01.xsd``, ``pedRegEvento_v1.01.xsd``,
  ``tiposEventos_v1.01.xsd``); type names such as ``TSIdDPS`` are theirs.
- Manual: "Manual de Orientação do Contribuinte / Anexo I — Leiaute e Regras de Negócio da DPS"
  of the NFS-e Nacional, layout 1.01 (the XSD's annotations repeat its descriptions).
- LC 116/2003 (ISS), LC 123/2006 (Simples Nacional, MEI), LC 214/2025 (IBS/CBS, 2026 test year).

A layout is a builder class registered in :data:`LAYOUTS`: a new layout (NT 009 and its
``finNFSe``) is a new builder beside this one, never an edit of it.
"""

import base64
import datetime
import gzip
import re
import time
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from functools import cache
from pathlib import Path

from lxml import etree
from signxml import XMLSigner

NAMESPACE = "http://www.sped.fazenda.gov.br/nfse"
DSIG_NAMESPACE = "http://www.w3.org/2000/09/xmldsig#"
C14N = "http://www.w3.org/TR/2001/REC-xml-c14n-20010315"
APP_VERSION = "RBM-18.0.1.0.0"

# LC 214/2025 art. 343: in 2026 the CBS is charged at 0.9% and the IBS at 0.1% (state part;
# the municipal part starts in 2027), informative and compensable. The DPS of layout 1.01 carries
# no rate: the Sefin computes these amounts into the NFS-e (TCRTCValoresIBSCBS).
IBSCBS_2026_RATES = {"CBS": Decimal("0.90"), "IBS_UF": Decimal("0.10"), "IBS_MUN": Decimal("0")}

# registration type of the DPS Id (TSIdDPS: "Tipo de Inscrição Federal": 1 CPF, 2 CNPJ)
REGISTRATION_CPF = "1"
REGISTRATION_CNPJ = "2"

# tax regimes -> TCRegTrib/opSimpNac (TSOpSimpNac): 1 not in the Simples Nacional, 2 MEI,
# 3 ME/EPP in the Simples Nacional
REGIMES = {"normal": "1", "mei": "2", "simples": "3"}
# TSRegEspTrib: 0 none, 1 ato cooperado, 2 estimativa, 3 ME municipal, 4 notário/registrador,
# 5 profissional autônomo, 6 sociedade de profissionais, 9 outros
SPECIAL_REGIMES = ("0", "1", "2", "3", "4", "5", "6", "9")
# TE101101/cMotivo (TSCodJustCanc): 1 error in issuing, 2 service not rendered, 9 other
CANCEL_REASONS = {"1": "Erro na Emissão", "2": "Serviço não Prestado", "9": "Outros"}
CANCEL_EVENT = "101101"
# TCSubstituicao/cMotivo (TSCodJustSubst): why an NFS-e is replaced; the Sefin registers the
# event e105102 "Cancelamento de NFS-e por Substituição" on the replaced NFS-e with the same code
REPLACE_REASONS = {
    "01": "Desenquadramento de NFS-e do Simples Nacional",
    "02": "Enquadramento de NFS-e no Simples Nacional",
    "03": "Inclusão Retroativa de Imunidade/Isenção para NFS-e",
    "04": "Exclusão Retroativa de Imunidade/Isenção para NFS-e",
    "05": "Rejeição de NFS-e pelo tomador ou pelo intermediário se responsável pelo "
    "recolhimento do tributo",
    "99": "Outros",
}
REPLACE_EVENT = "105102"

_CPF = re.compile(r"\d{11}")
_CNPJ = re.compile(r"\d{14}")
_ALNUM_CNPJ = re.compile(r"[0-9A-Z]{12}\d{2}")
_IBGE = re.compile(r"\d{7}")
_CEP = re.compile(r"\d{8}")
_TRIB_NAC = re.compile(r"\d{6}")
_NBS = re.compile(r"\d{9}")
_SERIES = re.compile(r"0{0,4}\d{1,5}")
_NUMBER = re.compile(r"[1-9]\d{0,14}")
_ACCESS_KEY = re.compile(r"\d{50}")
_CST_IBSCBS = re.compile(r"\d{3}")
_CODE6 = re.compile(r"\d{6}")
CENT = Decimal("0.01")
BRASILIA = datetime.timezone(datetime.timedelta(hours=-3))


class DpsError(ValueError):
    """A DPS (or event) that cannot be issued: ``field`` names the DPS element at fault."""

    def __init__(self, field, message):
        self.field = field
        self.message = message
        super().__init__(f"{field}: {message}")


# ---------------------------------------------------------------------------
# what a DPS needs
# ---------------------------------------------------------------------------


@dataclass
class Address:
    street: str
    number: str
    district: str
    city_ibge: str
    zip_code: str
    complement: str = ""


@dataclass
class Issuer:
    cnpj: str
    municipal_registration: str
    city_ibge: str
    regime: str = "simples"  # key of REGIMES
    # TCRegTrib/regApTribSN (TSRegimeApuracaoSimpNac), ME/EPP only: 1 federal and municipal
    # taxes through the Simples Nacional, 2 federal through it and ISS outside, 3 both outside
    simples_apportionment: str = "1"
    special_regime: str = "0"


@dataclass
class Taker:
    name: str
    cpf: str = ""
    cnpj: str = ""
    address: Address | None = None
    email: str = ""
    phone: str = ""


@dataclass
class PisCofins:
    """TCTribOutrosPisCofins, as the caller's tax setup gives it (codes of TSTipoCST and
    TSTipoRetPISCofins)."""

    cst: str
    base: Decimal | None = None
    pis_rate: Decimal | None = None
    cofins_rate: Decimal | None = None
    pis: Decimal | None = None
    cofins: Decimal | None = None
    retention_type: str = ""


@dataclass
class Retentions:
    """Federal retentions (TCTribFederal): INSS (vRetCP), IRRF, CSLL, and PIS/COFINS."""

    cp: Decimal = Decimal(0)
    irrf: Decimal = Decimal(0)
    csll: Decimal = Decimal(0)
    pis_cofins: PisCofins | None = None


@dataclass
class Service:
    national_code: str  # cTribNac, LC 116 list item + subitem + detail: 6 digits
    description: str
    amount: Decimal
    municipal_code: str = ""  # cTribMun
    nbs_code: str = ""  # cNBS
    iss_rate: Decimal | None = None  # percent
    iss_withheld: bool = False
    retentions: Retentions = field(default_factory=Retentions)
    place_ibge: str = ""  # where the service is rendered; the issuer's city when empty
    # approximate tax burden (Lei 12.741/2012): Simples Nacional percent, or none
    approx_tax_percent_sn: Decimal | None = None


@dataclass
class IbsCbs:
    """The IBSCBS group of the DPS (TCRTCInfoIBSCBS), 2026 test year (NT 004)."""

    cst: str  # TSRTCCodSitTrib, 3 digits
    class_code: str  # cClassTrib, TSRTCCodClassTrib, 6 digits
    operation_indicator: str  # cIndOp, TSRTCCodIndOp, 6 digits
    final_consumer: bool = False  # indFinal


@dataclass
class Replacement:
    """The ``subst`` group (TCSubstituicao): the NFS-e this DPS replaces and why."""

    access_key: str  # chSubstda, TSChaveNFSe (50 digits)
    reason_code: str  # cMotivo, key of REPLACE_REASONS
    reason: str = ""  # xMotivo, TSMotivo (15 to 255 characters), required with "99"


@dataclass
class Dps:
    issuer: Issuer
    taker: Taker
    service: Service
    series: str
    number: int
    issued_at: datetime.datetime
    competence: datetime.date
    environment: str = "2"  # tpAmb: 1 production, 2 restricted production
    ibscbs: IbsCbs | None = None
    app_version: str = APP_VERSION
    replaces: Replacement | None = None


@dataclass
class Cancellation:
    access_key: str
    author_cnpj: str
    reason_code: str
    reason: str
    at: datetime.datetime
    environment: str = "2"
    app_version: str = APP_VERSION


@dataclass
class Prepared:
    """A document ready to send: its Id, the signed XML, the body's payload, the time spent."""

    id: str
    xml: bytes
    payload: str
    timings: dict


# ---------------------------------------------------------------------------
# small rules
# ---------------------------------------------------------------------------


def _digits_check(numbers, weights):
    total = sum(int(n) * w for n, w in zip(numbers, weights, strict=False))
    rest = total % 11
    return "0" if rest < 2 else str(11 - rest)


def cpf_valid(cpf):
    """Receita Federal's CPF check digits (módulo 11); all-equal digits are not a CPF."""
    if not _CPF.fullmatch(cpf or "") or len(set(cpf)) == 1:
        return False
    first = _digits_check(cpf[:9], range(10, 1, -1))
    second = _digits_check(cpf[:9] + first, range(11, 1, -1))
    return cpf[9:] == first + second


def cnpj_valid(cnpj):
    """Receita Federal's CNPJ check digits (módulo 11, weights 2..9 from the right)."""
    if not _CNPJ.fullmatch(cnpj or "") or len(set(cnpj)) == 1:
        return False
    weights = [5, 4, 3, 2, 9, 8, 7, 6, 5, 4, 3, 2]
    first = _digits_check(cnpj[:12], weights)
    second = _digits_check(cnpj[:12] + first, [6, *weights])
    return cnpj[12:] == first + second


def only_digits(value):
    return re.sub(r"\D", "", value or "")


def _document(value):
    return re.sub(r"[.\-/\s]", "", value or "").upper()


def amount_text(value, field_name):
    """TSDec15V2: a non-negative amount with two decimals."""
    try:
        amount = Decimal(value).quantize(CENT, rounding=ROUND_HALF_UP)
    except (InvalidOperation, TypeError, ValueError) as exc:
        raise DpsError(field_name, f"not an amount: {value!r}") from exc
    if amount < 0:
        raise DpsError(field_name, "an amount cannot be negative")
    if amount >= Decimal("1e15"):
        raise DpsError(field_name, "more than 15 integer digits (TSDec15V2)")
    return f"{amount:.2f}"


def dps_id(city_ibge, cpf_or_cnpj, series, number):
    """TSIdDPS: "DPS" + municipality (7) + registration type (1: CPF, 2: CNPJ) + CPF/CNPJ
    (14, a CPF padded with zeros on the left) + series (5) + DPS number (15) = 45 characters
    (pattern ``DPS[0-9]{42}``)."""
    document = only_digits(cpf_or_cnpj)
    kind = REGISTRATION_CPF if len(document) == 11 else REGISTRATION_CNPJ
    return f"DPS{city_ibge}{kind}{document.zfill(14)}{int(series):05d}{int(number):015d}"


def cancellation_id(access_key, event=CANCEL_EVENT):
    """TSIdPedRegEvt: "PRE" + access key (50) + event type (6) = 59 characters."""
    return f"PRE{access_key}{event}"


def datetime_text(moment, field_name):
    """TSDateTimeUTC: ``AAAA-MM-DDThh:mm:ss`` and an offset of whole hours (``-03:00``); the
    pattern admits no ``Z`` and no fractions. Written in Brasília time (UTC-3, no daylight
    saving since 2019), whatever the moment's own zone."""
    if not isinstance(moment, datetime.datetime) or moment.tzinfo is None:
        raise DpsError(field_name, "a date and time with its time zone is required")
    return moment.astimezone(BRASILIA).replace(microsecond=0).isoformat()


def pack(xml):
    """What the Sefin's JSON bodies carry: the XML gzip-compressed, then base64."""
    if isinstance(xml, str):
        xml = xml.encode()
    return base64.b64encode(gzip.compress(xml)).decode("ascii")


def unpack(payload):
    return gzip.decompress(base64.b64decode(payload))


# ---------------------------------------------------------------------------
# schema and signature
# ---------------------------------------------------------------------------


def schema_folder():
    import nfelib  # noqa: PLC0415  (only where the schemas live)

    return Path(nfelib.__file__).resolve().parent / "nfse" / "schemas" / "v1_0"


@cache
def _schema(filename):
    return etree.XMLSchema(etree.parse(str(schema_folder() / filename)))


def schema_errors(xml, filename):
    """Messages of the official XSD ``filename`` about ``xml`` (bytes or element); [] if valid."""
    root = etree.fromstring(xml) if isinstance(xml, bytes | str) else xml
    schema = _schema(filename)
    if schema.validate(root):
        return []
    return [f"line {e.line}: {e.message}" for e in schema.error_log]


def sign(xml, key, cert_pem, reference_id):
    """XMLDSig enveloped signature of the element whose Id is ``reference_id`` (Manual: RSA-SHA256,
    digest SHA-256, canonicalization C14N 1.0, transforms enveloped-signature + C14N), written
    in the default namespace (``<Signature xmlns="http://www.w3.org/2000/09/xmldsig#">``, no
    ``ds:`` prefix) as the last child of the root, with the certificate in ``KeyInfo``."""
    root = etree.fromstring(xml) if isinstance(xml, bytes) else xml
    signer = XMLSigner(
        signature_algorithm="rsa-sha256",
        digest_algorithm="sha256",
        c14n_algorithm=C14N,
    )
    signer.namespaces = {None: DSIG_NAMESPACE}
    cert = cert_pem.decode() if isinstance(cert_pem, bytes) else cert_pem
    signed = signer.sign(root, key=key, cert=cert, reference_uri=f"#{reference_id}")
    return etree.tostring(signed, xml_declaration=True, encoding="UTF-8")


# ---------------------------------------------------------------------------
# layout 1.01
# ---------------------------------------------------------------------------


class Layout101:
    """DPS and cancellation event of layout 1.01 (schema package v1.01, nfelib 3.2 bindings)."""

    version = "1.01"
    dps_schema = "DPS_v1.01.xsd"
    event_schema = "pedRegEvento_v1.01.xsd"
    nfse_schema = "NFSe_v1.01.xsd"

    # -- checks before building (each names the DPS field) ------------------------

    def check(self, dps):  # noqa: C901 -- one rule after the other, in the layout's order
        issuer, taker, service = dps.issuer, dps.taker, dps.service
        if dps.environment not in ("1", "2"):  # TSTipoAmbiente
            raise DpsError("tpAmb", "1 (production) or 2 (restricted production)")
        cnpj = _document(issuer.cnpj)
        if not _CNPJ.fullmatch(cnpj) or not cnpj_valid(cnpj):  # TSCNPJ + check digits
            raise DpsError("prest/CNPJ", f"the issuer's CNPJ {issuer.cnpj!r} is not valid")
        if not _IBGE.fullmatch(issuer.city_ibge or ""):  # TSCodMunIBGE
            raise DpsError("cLocEmi", "the issuer's municipality needs its 7-digit IBGE code")
        if not 1 <= len(issuer.municipal_registration or "") <= 15:  # TSInscMun
            raise DpsError("prest/IM", "the municipal registration has 1 to 15 characters")
        if issuer.regime not in REGIMES:
            raise DpsError("prest/regTrib/opSimpNac", f"unknown tax regime {issuer.regime!r}")
        if issuer.special_regime not in SPECIAL_REGIMES:  # TSRegEspTrib
            raise DpsError("prest/regTrib/regEspTrib", "not a code of TSRegEspTrib")
        # Manual, TCRegTrib: regApTribSN only (and always) for an ME/EPP of the Simples Nacional
        if issuer.regime == "simples" and issuer.simples_apportionment not in ("1", "2", "3"):
            raise DpsError("prest/regTrib/regApTribSN", "1, 2 or 3 for an ME/EPP")
        if not _SERIES.fullmatch(str(dps.series)):  # TSSerieDPS
            raise DpsError("serie", "the series has 1 to 5 digits")
        if not _NUMBER.fullmatch(str(dps.number)):  # TSNumDPS
            raise DpsError("nDPS", "the DPS number is 1 to 15 digits, not starting with 0")
        if not isinstance(dps.competence, datetime.date):
            raise DpsError("dCompet", "the competence date is required")
        datetime_text(dps.issued_at, "dhEmi")
        if not 1 <= len(dps.app_version or "") <= 20:  # TSVerAplic
            raise DpsError("verAplic", "1 to 20 characters")
        self.check_taker(taker)
        self.check_service(issuer, service)
        if dps.replaces is not None:
            self.check_replacement(dps.replaces)
        if dps.ibscbs is not None:
            self.check_ibscbs(dps.ibscbs, service)

    def check_replacement(self, replacement):
        if not _ACCESS_KEY.fullmatch(replacement.access_key or ""):  # TSChaveNFSe
            raise DpsError("subst/chSubstda", "the replaced NFS-e's access key has 50 digits")
        if replacement.reason_code not in REPLACE_REASONS:  # TSCodJustSubst
            raise DpsError("subst/cMotivo", "01, 02, 03, 04, 05 or 99")
        reason = (replacement.reason or "").strip()
        if replacement.reason_code == "99" and not reason:
            # "99 - Outros" says nothing by itself: the explanation is required with it
            raise DpsError("subst/xMotivo", 'the reason "99 - Outros" needs its explanation')
        if reason and not 15 <= len(reason) <= 255:  # TSMotivo
            raise DpsError("subst/xMotivo", "the reason has 15 to 255 characters")

    def check_taker(self, taker):
        cpf, cnpj = _document(taker.cpf), _document(taker.cnpj)
        if cnpj:
            if _ALNUM_CNPJ.fullmatch(cnpj) and not cnpj.isdigit():
                # IN RFB 2.229/2024 creates the alphanumeric CNPJ (from July 2026); layout
                # 1.01's TSCNPJ is still [0-9]{14}, so it cannot be written in this DPS.
                raise DpsError(
                    "toma/CNPJ",
                    f"alphanumeric CNPJ {cnpj} is not accepted by layout 1.01 "
                    "(TSCNPJ is [0-9]{14})",
                )
            if not cnpj_valid(cnpj):
                raise DpsError("toma/CNPJ", f"the customer's CNPJ {taker.cnpj!r} is not valid")
        elif cpf:
            if not cpf_valid(cpf):
                raise DpsError("toma/CPF", f"the customer's CPF {taker.cpf!r} is not valid")
        else:
            raise DpsError("toma/CPF", "the customer has no CPF or CNPJ")
        if not 1 <= len((taker.name or "").strip()) <= 300:  # TSNomeRazaoSocial
            raise DpsError("toma/xNome", "the customer's name is required (up to 300)")
        address = taker.address
        if address is None or not _IBGE.fullmatch(address.city_ibge or ""):
            raise DpsError("toma/end/endNac/cMun", "the customer's city has no IBGE code")
        if not _CEP.fullmatch(only_digits(address.zip_code)):  # TSCEP
            raise DpsError("toma/end/endNac/CEP", "the customer's CEP has 8 digits")
        if not 1 <= len((address.street or "").strip()) <= 255:  # TSLogradouro
            raise DpsError("toma/end/xLgr", "the customer's street is required")
        if not 1 <= len((address.district or "").strip()) <= 60:  # TSBairro
            raise DpsError("toma/end/xBairro", "the customer's district is required")

    def check_service(self, issuer, service):
        if not _TRIB_NAC.fullmatch(service.national_code or ""):  # TSCodTribNac
            raise DpsError("serv/cServ/cTribNac", "the national service code has 6 digits")
        if service.nbs_code and not _NBS.fullmatch(service.nbs_code):  # TSCodNBS
            raise DpsError("serv/cServ/cNBS", "the NBS code has 9 digits")
        if service.municipal_code and not re.fullmatch(r"\d{3}", service.municipal_code):
            raise DpsError("serv/cServ/cTribMun", "the municipal code has 3 digits")
        if not 1 <= len((service.description or "").strip()) <= 2000:  # TSDesc2000
            raise DpsError("serv/cServ/xDescServ", "the description is required (up to 2000)")
        if service.place_ibge and not _IBGE.fullmatch(service.place_ibge):
            raise DpsError("serv/locPrest/cLocPrestacao", "7-digit IBGE code")
        if Decimal(amount_text(service.amount, "valores/vServPrest/vServ")) <= 0:
            raise DpsError("valores/vServPrest/vServ", "the service amount must be positive")
        rate = service.iss_rate
        if issuer.regime == "mei" and rate is not None:
            # LC 123/2006 art. 18-A: the MEI pays ISS as a fixed monthly amount, no rate
            raise DpsError("valores/trib/tribMun/pAliq", "an MEI informs no ISS rate")
        if service.iss_withheld and rate is None:
            # Manual, TCTribMunicipal: the withholding taker needs the rate it applies
            raise DpsError("valores/trib/tribMun/pAliq", "withheld ISS needs its rate")
        if rate is not None and not Decimal("2") <= Decimal(rate) <= Decimal("5"):
            # LC 116/2003 art. 8, II (at most 5%) and art. 8-A (at least 2%)
            raise DpsError("valores/trib/tribMun/pAliq", "the ISS rate is between 2% and 5%")
        retentions = service.retentions
        for name, value in (("vRetCP", retentions.cp), ("vRetIRRF", retentions.irrf)):
            amount_text(value, f"valores/trib/tribFed/{name}")
        amount_text(retentions.csll, "valores/trib/tribFed/vRetCSLL")
        total = sum(Decimal(v or 0) for v in (retentions.cp, retentions.irrf, retentions.csll))
        if total > Decimal(service.amount):
            raise DpsError("valores/trib/tribFed", "retentions exceed the service amount")

    def check_ibscbs(self, group, service):
        if not _CST_IBSCBS.fullmatch(group.cst or ""):  # TSRTCCodSitTrib
            raise DpsError("IBSCBS/valores/trib/gIBSCBS/CST", "3 digits")
        if not _CODE6.fullmatch(group.class_code or ""):  # TSRTCCodClassTrib
            raise DpsError("IBSCBS/valores/trib/gIBSCBS/cClassTrib", "6 digits")
        if not _CODE6.fullmatch(group.operation_indicator or ""):  # TSRTCCodIndOp
            raise DpsError("IBSCBS/cIndOp", "6 digits")
        if not service.nbs_code:
            # NT 004: the NBS code classifies the service for IBS/CBS; the Sefin answers E0322
            # when it is missing from a DPS with the IBSCBS group
            raise DpsError("serv/cServ/cNBS", "the NBS code is required with the IBSCBS group")

    # -- building --------------------------------------------------------------------------

    def binding(self, dps):
        """The nfelib binding (``nfelib.nfse.bindings.v1_0.dps_v1_01.Dps``) of a checked DPS."""
        from nfelib.nfse.bindings.v1_0 import tipos_complexos_v1_01 as tc  # noqa: PLC0415
        from nfelib.nfse.bindings.v1_0.dps_v1_01 import Dps as DpsBinding  # noqa: PLC0415

        issuer, taker, service = dps.issuer, dps.taker, dps.service
        cnpj = _document(issuer.cnpj)
        opsn = REGIMES[issuer.regime]
        reg_trib = tc.TcregTrib(
            opSimpNac=tc.TsopSimpNac(opsn),
            regApTribSN=(
                tc.TsregimeApuracaoSimpNac(issuer.simples_apportionment) if opsn == "3" else None
            ),
            regEspTrib=tc.TsregEspTrib(issuer.special_regime),
        )
        address = taker.address
        toma = tc.TcinfoPessoa(
            CNPJ=_document(taker.cnpj) or None,
            CPF=None if taker.cnpj else _document(taker.cpf),
            xNome=taker.name.strip(),
            end=tc.Tcendereco(
                endNac=tc.TcenderNac(cMun=address.city_ibge, CEP=only_digits(address.zip_code)),
                xLgr=address.street.strip(),
                nro=(address.number or "").strip() or "S/N",
                xCpl=(address.complement or "").strip() or None,
                xBairro=address.district.strip(),
            ),
            fone=only_digits(taker.phone) or None,
            email=taker.email or None,
        )
        serv = tc.Tcserv(
            locPrest=tc.TclocPrest(cLocPrestacao=service.place_ibge or issuer.city_ibge),
            cServ=tc.Tccserv(
                cTribNac=service.national_code,
                cTribMun=service.municipal_code or None,
                xDescServ=service.description.strip(),
                cNBS=service.nbs_code or None,
            ),
        )
        return DpsBinding(
            versao=self.version,
            infDPS=tc.TcinfDps(
                Id=dps_id(issuer.city_ibge, cnpj, dps.series, dps.number),
                tpAmb=tc.TstipoAmbiente(dps.environment),
                dhEmi=datetime_text(dps.issued_at, "dhEmi"),
                verAplic=dps.app_version,
                serie=str(int(dps.series)),
                nDPS=str(int(dps.number)),
                dCompet=dps.competence.isoformat(),
                tpEmit=tc.TsemitenteDps("1"),  # 1: the provider issues
                cLocEmi=issuer.city_ibge,
                subst=self._replacement(tc, dps.replaces),
                prest=tc.TcinfoPrestador(
                    CNPJ=cnpj, IM=issuer.municipal_registration, regTrib=reg_trib
                ),
                toma=toma,
                serv=serv,
                valores=self._values(tc, issuer, service),
                IBSCBS=self._ibscbs(tc, dps.ibscbs),
            ),
        )

    @staticmethod
    def _replacement(tc, replacement):
        if replacement is None:
            return None
        return tc.Tcsubstituicao(
            chSubstda=replacement.access_key,
            cMotivo=tc.TscodJustSubst(replacement.reason_code),
            xMotivo=(replacement.reason or "").strip() or None,
        )

    def _values(self, tc, issuer, service):
        retentions = service.retentions
        trib_fed = None
        if any(Decimal(v or 0) for v in (retentions.cp, retentions.irrf, retentions.csll)) or (
            retentions.pis_cofins
        ):
            trib_fed = tc.TctribFederal(
                piscofins=self._pis_cofins(tc, retentions.pis_cofins),
                vRetCP=self._optional(retentions.cp, "valores/trib/tribFed/vRetCP"),
                vRetIRRF=self._optional(retentions.irrf, "valores/trib/tribFed/vRetIRRF"),
                vRetCSLL=self._optional(retentions.csll, "valores/trib/tribFed/vRetCSLL"),
            )
        if issuer.regime == "simples" and service.approx_tax_percent_sn is not None:
            # Lei 12.741/2012: the approximate tax burden; the Simples Nacional percent
            tot_trib = tc.TctribTotal(pTotTribSN=f"{Decimal(service.approx_tax_percent_sn):.2f}")
        else:
            # TSTipoIndTotTrib 0: no estimate informed (Decreto 8.264/2014 art. 2)
            tot_trib = tc.TctribTotal(indTotTrib=tc.TstipoIndTotTrib("0"))
        return tc.TcinfoValores(
            vServPrest=tc.TcvservPrest(vServ=amount_text(service.amount, "vServ")),
            trib=tc.TcinfoTributacao(
                tribMun=tc.TctribMunicipal(
                    tribISSQN=tc.TstribIssqn("1"),  # 1: taxable operation
                    # TSTipoRetISSQN: 1 not withheld, 2 withheld by the taker
                    tpRetISSQN=tc.TstipoRetIssqn("2" if service.iss_withheld else "1"),
                    pAliq=(
                        None if service.iss_rate is None else f"{Decimal(service.iss_rate):.2f}"
                    ),
                ),
                tribFed=trib_fed,
                totTrib=tot_trib,
            ),
        )

    @staticmethod
    def _optional(value, field_name):
        return amount_text(value, field_name) if Decimal(value or 0) else None

    def _pis_cofins(self, tc, group):
        if group is None:
            return None
        path = "valores/trib/tribFed/piscofins"

        def rate(value):
            return None if value is None else f"{Decimal(value):.2f}"

        def amount(value, name):
            return None if value is None else amount_text(value, f"{path}/{name}")

        return tc.TctribOutrosPisCofins(
            CST=tc.TstipoCst(group.cst),
            vBCPisCofins=amount(group.base, "vBCPisCofins"),
            pAliqPis=rate(group.pis_rate),
            pAliqCofins=rate(group.cofins_rate),
            vPis=amount(group.pis, "vPis"),
            vCofins=amount(group.cofins, "vCofins"),
            tpRetPisCofins=(
                tc.TstipoRetPiscofins(group.retention_type) if group.retention_type else None
            ),
        )

    def _ibscbs(self, tc, group):
        if group is None:
            return None
        return tc.TcrtcinfoIbscbs(
            finNFSe=tc.TsrtcfinNfse("0"),  # 0: regular NFS-e (the only value of 1.01)
            indFinal=tc.TsrtcindFinal("1" if group.final_consumer else "0"),
            cIndOp=group.operation_indicator,
            indDest=tc.TsrtcindDest("0"),  # 0: the taker is the recipient (no dest group)
            valores=tc.TcrtcinfoValoresIbscbs(
                trib=tc.TcrtcinfoTributosIbscbs(
                    gIBSCBS=tc.TcrtcinfoTributosSitClas(CST=group.cst, cClassTrib=group.class_code)
                )
            ),
        )

    def serialize(self, binding):
        xml = binding.to_xml(indent="")
        root = etree.fromstring(xml.encode())
        return etree.tostring(root, xml_declaration=True, encoding="UTF-8")

    def check_version(self, xml):
        """The 1.01 XSD also accepts ``versao="1.00"`` (TVerNFSe is ``1\\.00|1\\.01``)."""
        root = etree.fromstring(xml)
        if root.get("versao") != self.version:
            raise DpsError("versao", f"the document must say versao={self.version!r}")

    def validate(self, xml, schema):
        self.check_version(xml)
        errors = schema_errors(xml, schema)
        if errors:
            raise DpsError("schema", "; ".join(errors))

    # -- the cancellation event ----------------------------------------------------

    def check_cancellation(self, event):
        if not _ACCESS_KEY.fullmatch(event.access_key or ""):  # TSChaveNFSe
            raise DpsError("chNFSe", "the access key has 50 digits")
        if not cnpj_valid(_document(event.author_cnpj)):
            raise DpsError("CNPJAutor", "the author's CNPJ is not valid")
        if event.reason_code not in CANCEL_REASONS:  # TSCodJustCanc
            raise DpsError("e101101/cMotivo", "1, 2 or 9")
        if not 15 <= len((event.reason or "").strip()) <= 255:  # TSMotivo
            raise DpsError("e101101/xMotivo", "the reason has 15 to 255 characters")
        datetime_text(event.at, "dhEvento")

    def cancellation_binding(self, event):
        from nfelib.nfse.bindings.v1_0 import tipos_eventos_v1_01 as te  # noqa: PLC0415
        from nfelib.nfse.bindings.v1_0.ped_reg_evento_v1_01 import PedRegEvento  # noqa: PLC0415

        return PedRegEvento(
            versao=self.version,
            infPedReg=te.TcinfPedReg(
                Id=cancellation_id(event.access_key),
                tpAmb=te.TstipoAmbiente(event.environment),
                verAplic=event.app_version,
                dhEvento=datetime_text(event.at, "dhEvento"),
                CNPJAutor=_document(event.author_cnpj),
                chNFSe=event.access_key,
                e101101=te.Te101101(
                    xDesc=te.Te101101XDesc("Cancelamento de NFS-e"),
                    cMotivo=te.TscodJustCanc(event.reason_code),
                    xMotivo=event.reason.strip(),
                ),
            ),
        )

    def serialize_event(self, binding):
        # PedRegEvento has no to_xml() in nfelib 3.2: xsdata's serializer directly
        from xsdata.formats.dataclass.serializers import XmlSerializer  # noqa: PLC0415

        xml = XmlSerializer().render(binding, ns_map={None: NAMESPACE})
        root = etree.fromstring(xml.encode())
        return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


LAYOUTS = {"1.01": Layout101}


def layout(version="1.01"):
    try:
        return LAYOUTS[version]()
    except KeyError as exc:
        raise DpsError("versao", f"no builder for layout {version!r}") from exc


# ---------------------------------------------------------------------------
# the steps together
# ---------------------------------------------------------------------------


def build_dps(dps, version="1.01"):
    """The unsigned DPS XML (bytes) and its Id, after every check."""
    builder = layout(version)
    builder.check(dps)
    binding = builder.binding(dps)
    return binding.infDPS.Id, builder.serialize(binding)


def prepare_dps(dps, certificate, version="1.01", clock=time.perf_counter):
    """Build, validate, sign and pack a DPS; ``certificate`` is an ``A1Certificate``."""
    builder = layout(version)
    timings = {}
    start = clock()
    builder.check(dps)
    binding = builder.binding(dps)
    xml = builder.serialize(binding)
    timings["build"] = clock() - start
    start = clock()
    builder.validate(xml, builder.dps_schema)
    timings["validate"] = clock() - start
    start = clock()
    signed = sign(xml, certificate.key, certificate.cert_pem, binding.infDPS.Id)
    builder.validate(signed, builder.dps_schema)
    payload = pack(signed)
    timings["sign"] = clock() - start
    return Prepared(id=binding.infDPS.Id, xml=signed, payload=payload, timings=timings)


def prepare_cancellation(event, certificate, version="1.01"):
    """Build, validate and sign the cancellation request (pedRegEvento, event e101101)."""
    builder = layout(version)
    builder.check_cancellation(event)
    binding = builder.cancellation_binding(event)
    xml = builder.serialize_event(binding)
    builder.validate(xml, builder.event_schema)
    signed = sign(xml, certificate.key, certificate.cert_pem, binding.infPedReg.Id)
    builder.validate(signed, builder.event_schema)
    return Prepared(id=binding.infPedReg.Id, xml=signed, payload=pack(signed), timings={})
