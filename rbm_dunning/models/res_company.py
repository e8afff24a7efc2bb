from odoo import _, api, fields, models
from odoo.exceptions import ValidationError

from ..engine import card_retry


class ResCompany(models.Model):
    _inherit = "res.company"

    rbm_card_retry_days = fields.Char(
        string="Card Retry Days",
        default="1,3,5,7",
        required=True,
        help="Days after the first failed card charge of an invoice on which the card is "
        "charged again, separated by commas (e.g. 1,3,5,7). Hard declines are never retried.",
    )

    @api.constrains("rbm_card_retry_days")
    def _check_rbm_card_retry_days(self):
        for company in self:
            try:
                card_retry.parse_schedule(company.rbm_card_retry_days)
            except card_retry.ScheduleError as error:
                raise ValidationError(company._rbm_card_retry_error(error)) from None

    def _rbm_card_retry_error(self, error):
        self.ensure_one()
        reasons = {
            "empty": _("it is empty"),
            "not_a_number": _("“%(part)s” is not a whole number of days", part=error.part),
            "not_positive": _("day %(part)s is not after the first failure", part=error.part),
            "too_late": _(
                "day %(part)s is more than %(max)s days away",
                part=error.part,
                max=card_retry.MAX_DAYS,
            ),
            "not_increasing": _(
                "day %(part)s does not come after the previous one", part=error.part
            ),
            "too_many": _(
                "%(part)s retries are more than %(max)s",
                part=error.part,
                max=card_retry.MAX_RETRIES,
            ),
        }
        return _(
            "The card retry schedule “%(value)s” of company %(company)s cannot be used: "
            "%(reason)s. Write the days after the first failure in increasing order, "
            "separated by commas (e.g. 1,3,5,7).",
            value=self.rbm_card_retry_days or "",
            company=self.name,
            reason=reasons[error.reason],
        )
