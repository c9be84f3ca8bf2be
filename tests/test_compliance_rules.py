"""Every rule id: a violating case, a clean near miss, and the boundary, as tables."""

from __future__ import annotations

from typing import Any

import pytest

from copilot.compliance import Proposal, get_engine
from tests.test_compliance_support import CO_BASE, US_BASE, US_TEXT, calls, proposal

US_CALL = (
    "Hi, this is Rohan Mehta from Cascade Recovery Group, a debt collector, calling "
    "about your Kestrel Bankcard account."
)
US_LCM = (
    "Hello, this is Tamsin from CRG. Please call me back at (877) 555-0163; any "
    "representative can help you."
)
CLOSING = (
    "Dear Ms. Example: This letter is from Cascade Recovery Group, a debt collector. As "
    "you asked, Cascade is closing its collection activity on this account."
)


def us(text_extra: str = "", **changes: Any) -> dict[str, Any]:
    data = proposal(US_BASE, **changes)
    if text_extra:
        data["text"] = data["text"] + " " + text_extra
    return data


def co(text_extra: str = "", **changes: Any) -> dict[str, Any]:
    data = proposal(CO_BASE, **changes)
    if text_extra:
        data["text"] = data["text"] + " " + text_extra
    return data


def us_call(**changes: Any) -> dict[str, Any]:
    return us(**{"channel": "call", "text": US_CALL, **changes})


# (id, rule, input, expected: True if the rule must be reported, False if it must not)
CASES: list[tuple[str, str, dict[str, Any], bool]] = [
    # us.contact_time
    (
        "us time: 07:30 local is too early",
        "us.contact_time",
        us(send_at="2027-04-14T07:30:00-04:00"),
        True,
    ),
    (
        "us time: 20:59 local is fine",
        "us.contact_time",
        us(send_at="2027-04-14T20:59:00-04:00"),
        False,
    ),
    (
        "us time: 21:00 exactly is too late",
        "us.contact_time",
        us(send_at="2027-04-14T21:00:00-04:00"),
        True,
    ),
    (
        "us time: 08:00 exactly is fine",
        "us.contact_time",
        us(send_at="2027-04-14T08:00:00-04:00"),
        False,
    ),
    (
        "us time: a UTC moment that is 20:30 in New York is fine",
        "us.contact_time",
        us(send_at="2027-04-15T00:30:00Z"),
        False,
    ),
    (
        "us time: a UTC moment that is 21:30 in New York is too late",
        "us.contact_time",
        us(send_at="2027-04-15T01:30:00Z"),
        True,
    ),
    (
        "us time: the debtor's own hours allow 21:30",
        "us.contact_time",
        us(
            send_at="2027-04-14T21:30:00-04:00",
            debtor__preferred_hours={"start": "21:00", "end": "22:00"},
        ),
        False,
    ),
    (
        "us time: 09:00 in New York is 06:00 in a second possible zone",
        "us.contact_time",
        us(
            send_at="2027-04-14T09:00:00-04:00",
            debtor__other_timezones=["America/Los_Angeles"],
        ),
        True,
    ),
    # us.call_frequency
    (
        "us calls: an eighth call within seven days",
        "us.call_frequency",
        us_call(
            history=calls(
                "2027-04-08T10:00:00-04:00",
                "2027-04-09T10:00:00-04:00",
                "2027-04-10T10:00:00-04:00",
                "2027-04-11T10:00:00-04:00",
                "2027-04-12T10:00:00-04:00",
                "2027-04-13T10:00:00-04:00",
                "2027-04-13T15:00:00-04:00",
            )
        ),
        True,
    ),
    (
        "us calls: a seventh call within seven days",
        "us.call_frequency",
        us_call(
            history=calls(
                "2027-04-09T10:00:00-04:00",
                "2027-04-10T10:00:00-04:00",
                "2027-04-11T10:00:00-04:00",
                "2027-04-12T10:00:00-04:00",
                "2027-04-13T10:00:00-04:00",
                "2027-04-13T15:00:00-04:00",
            )
        ),
        False,
    ),
    (
        "us calls: seven calls whose first fell eight days ago",
        "us.call_frequency",
        us_call(
            history=calls(
                "2027-04-07T10:00:00-04:00",
                "2027-04-09T10:00:00-04:00",
                "2027-04-10T10:00:00-04:00",
                "2027-04-11T10:00:00-04:00",
                "2027-04-12T10:00:00-04:00",
                "2027-04-13T10:00:00-04:00",
                "2027-04-13T15:00:00-04:00",
            )
        ),
        False,
    ),
    (
        "us calls: day 7 after a conversation (its day is day 1)",
        "us.call_frequency",
        us_call(history=calls("2027-04-08T16:00:00-04:00", outcome="conversation")),
        True,
    ),
    (
        "us calls: day 8 after a conversation",
        "us.call_frequency",
        us_call(history=calls("2027-04-07T16:00:00-04:00", outcome="conversation")),
        False,
    ),
    (
        "us calls: an email the day after a conversation is not a call",
        "us.call_frequency",
        us(
            channel="email",
            history=calls("2027-04-13T16:00:00-04:00", outcome="conversation"),
        ),
        False,
    ),
    (
        "us calls: an inbound conversation also starts the pause",
        "us.call_frequency",
        us_call(
            history=[
                {
                    "at": "2027-04-13T09:00:00-04:00",
                    "channel": "call",
                    "direction": "inbound",
                    "outcome": "conversation",
                }
            ]
        ),
        True,
    ),
    # us.cease_communication
    (
        "us cease: an sms after a cease request",
        "us.cease_communication",
        us(debtor__cease_requested=True),
        True,
    ),
    (
        "us cease: a letter closing collection is one of the allowed notices",
        "us.cease_communication",
        us(channel="letter", text=CLOSING, debtor__cease_requested=True),
        False,
    ),
    (
        "us cease: the closing notice by sms is still a contact",
        "us.cease_communication",
        us(text=CLOSING + " Reply STOP to opt out.", debtor__cease_requested=True),
        True,
    ),
    # us.attorney_represented
    (
        "us attorney: sms to a represented debtor",
        "us.attorney_represented",
        us(debtor__attorney_represented=True),
        True,
    ),
    (
        "us attorney: letter to the attorney",
        "us.attorney_represented",
        us(
            channel="letter",
            recipient={"role": "attorney", "address": "Law office"},
            debtor__attorney_represented=True,
        ),
        False,
    ),
    (
        "us attorney: the spouse of a represented debtor",
        "us.attorney_represented",
        us(
            recipient={"role": "spouse", "address": "+12125550101"},
            debtor__attorney_represented=True,
        ),
        True,
    ),
    # us.workplace_contact
    (
        "us work: email to the work address the employer forbids",
        "us.workplace_contact",
        us(
            channel="email",
            recipient={"role": "debtor", "address": "ana@employer.example"},
            debtor__work_email="ana@employer.example",
            debtor__employer_prohibits_contact=True,
        ),
        True,
    ),
    (
        "us work: email to the personal address",
        "us.workplace_contact",
        us(
            channel="email",
            recipient={"role": "debtor", "address": "ana@home.example"},
            debtor__work_email="ana@employer.example",
            debtor__employer_prohibits_contact=True,
        ),
        False,
    ),
    (
        "us work: employer-provided email, other case, no prohibition",
        "us.workplace_contact",
        us(
            channel="email",
            recipient={"role": "debtor", "address": "ANA@Employer.example"},
            debtor__work_email="ana@employer.example",
        ),
        True,
    ),
    # us.channel_opt_out
    (
        "us opt-out: sms after opting out of sms",
        "us.channel_opt_out",
        us(debtor__opted_out_channels=["sms"]),
        True,
    ),
    (
        "us opt-out: sms after opting out of email",
        "us.channel_opt_out",
        us(debtor__opted_out_channels=["email"]),
        False,
    ),
    (
        "us opt-out: a voicemail is a call",
        "us.channel_opt_out",
        us(channel="voicemail", text=US_LCM, debtor__opted_out_channels=["call"]),
        True,
    ),
    # us.third_party_disclosure
    (
        "us third party: a relative told about the balance",
        "us.third_party_disclosure",
        us_call(
            recipient={"role": "relative", "address": "+12125550102"},
            text="Tell your sister her unpaid balance is $1,240.50.",
        ),
        True,
    ),
    (
        "us third party: the spouse may hear about it",
        "us.third_party_disclosure",
        us(recipient={"role": "spouse", "address": "+12125550103"}),
        False,
    ),
    (
        "us third party: a location call that never mentions the debt",
        "us.third_party_disclosure",
        us_call(
            recipient={"role": "relative", "address": "+12125550102"},
            text="Hi, this is Rohan. Could you ask Ana to call me at (877) 555-0163?",
        ),
        False,
    ),
    # us.debt_collector_disclosure
    (
        "us disclosure: later sms without the statement",
        "us.debt_collector_disclosure",
        us(text="Hi Ana, your balance is $1,240.50. Reply STOP to opt out."),
        True,
    ),
    (
        "us disclosure: later sms with the statement",
        "us.debt_collector_disclosure",
        us(),
        False,
    ),
    (
        "us disclosure: first contact needs the full mini-Miranda",
        "us.debt_collector_disclosure",
        us(first_contact=True),
        True,
    ),
    (
        "us disclosure: first contact with the full mini-Miranda",
        "us.debt_collector_disclosure",
        us(
            "This is an attempt to collect a debt and any information obtained will be used "
            "for that purpose.",
            first_contact=True,
        ),
        False,
    ),
    (
        "us disclosure: Spanish statement counts",
        "us.debt_collector_disclosure",
        us(
            language="es",
            text="Hola Ana, este mensaje proviene de un cobrador de deudas. "
            "Responda BAJA para darse de baja.",
        ),
        False,
    ),
    # us.electronic_opt_out
    (
        "us opt-out line: email without one",
        "us.electronic_opt_out",
        us(channel="email", text=US_TEXT.replace(" Reply STOP to opt out.", "")),
        True,
    ),
    (
        "us opt-out line: letters need none",
        "us.electronic_opt_out",
        us(channel="letter", text=US_TEXT.replace(" Reply STOP to opt out.", "")),
        False,
    ),
    (
        "us opt-out line: Spanish BAJA counts",
        "us.electronic_opt_out",
        us(
            text=US_TEXT.replace(
                "Reply STOP to opt out.", "Responda BAJA para no recibir más mensajes."
            )
        ),
        False,
    ),
    # us.limited_content_voicemail
    (
        "us voicemail: names the balance",
        "us.limited_content_voicemail",
        us(
            channel="voicemail", text=US_LCM + " It is about your balance of $1,240.50."
        ),
        True,
    ),
    (
        "us voicemail: limited content",
        "us.limited_content_voicemail",
        us(channel="voicemail", text=US_LCM),
        False,
    ),
    (
        "us voicemail: a business name that says recovery",
        "us.limited_content_voicemail",
        us(channel="voicemail", text=US_LCM.replace("CRG", "Cascade Recovery Group")),
        True,
    ),
    # us.threat_criminal
    (
        "us criminal: arrest threat",
        "us.threat_criminal",
        us("You will be arrested."),
        True,
    ),
    (
        "us criminal: negated arrest",
        "us.threat_criminal",
        us("You will not be arrested and this is not a crime."),
        False,
    ),
    (
        "us criminal: 'if you do not pay' does not negate",
        "us.threat_criminal",
        us("If you do not pay we will have you arrested."),
        True,
    ),
    # us.threat_legal_action
    (
        "us legal: suit threat without intent",
        "us.threat_legal_action",
        us("We will sue you."),
        True,
    ),
    (
        "us legal: suit the account records as intended",
        "us.threat_legal_action",
        us("We will sue you.", account__legal_action_intended=True),
        False,
    ),
    (
        "us legal: intended but time-barred",
        "us.threat_legal_action",
        us(
            "We will sue you.",
            account__legal_action_intended=True,
            account__time_barred=True,
        ),
        True,
    ),
    # us.time_barred_suit_threat
    (
        "us time-barred: suit threat",
        "us.time_barred_suit_threat",
        us("We will file a lawsuit.", account__time_barred=True),
        True,
    ),
    (
        "us time-barred: promise not to sue",
        "us.time_barred_suit_threat",
        us(
            "The deadline for a lawsuit has passed, so we will not sue you.",
            account__time_barred=True,
        ),
        False,
    ),
    (
        "us time-barred: same threat on a debt that is not time-barred",
        "us.time_barred_suit_threat",
        us("We will file a lawsuit.", account__legal_action_intended=True),
        False,
    ),
    # us.false_attorney_or_government
    (
        "us attorney claim: our attorneys",
        "us.false_attorney_or_government",
        us("Our attorneys have reviewed your file."),
        True,
    ),
    (
        "us attorney claim: a rights statement",
        "us.false_attorney_or_government",
        us("You have the right to consult an attorney or a law office."),
        False,
    ),
    (
        "us attorney claim: a real process is open",
        "us.false_attorney_or_government",
        us("The court documents were filed.", account__legal_process_open=True),
        False,
    ),
    # us.false_credit_threat
    (
        "us credit: ruin your credit",
        "us.false_credit_threat",
        us("This will ruin your credit."),
        True,
    ),
    (
        "us credit: a factual reporting sentence",
        "us.false_credit_threat",
        us("We may report this account to the credit bureaus."),
        False,
    ),
    (
        "us credit: forever",
        "us.false_credit_threat",
        us("It will stay on your credit forever."),
        True,
    ),
    # us.abusive_language
    (
        "us abuse: deadbeat",
        "us.abusive_language",
        us("Only a deadbeat ignores letters."),
        True,
    ),
    (
        "us abuse: polite text",
        "us.abusive_language",
        us("Thank you for your time."),
        False,
    ),
    (
        "us abuse: negated insult",
        "us.abusive_language",
        us("We know you are not a deadbeat."),
        False,
    ),
    # us.shaming
    (
        "us shaming: tell the employer",
        "us.shaming",
        us("We will tell your employer about this."),
        True,
    ),
    (
        "us shaming: negated",
        "us.shaming",
        us("We will not contact your employer or your family about it."),
        False,
    ),
    (
        "us shaming: a call to the HR department",
        "us.shaming",
        us("We can always give your HR department a call so they know."),
        True,
    ),
    (
        "us shaming: the neighbours will know",
        "us.shaming",
        us("Your employer and your neighbors will know."),
        True,
    ),
    # us.disputed_debt
    (
        "us dispute: payment request before verification",
        "us.disputed_debt",
        us(debtor__disputed=True),
        True,
    ),
    (
        "us dispute: verification sent",
        "us.disputed_debt",
        us(debtor__disputed=True, debtor__verification_sent=True),
        False,
    ),
    (
        "us dispute: acknowledging the dispute without asking for money",
        "us.disputed_debt",
        us(
            text="Hi Ana, Cascade Recovery Group, a debt collector, received your dispute and "
            "will mail the verification. Reply STOP to opt out.",
            debtor__disputed=True,
        ),
        False,
    ),
    (
        "us dispute: overshadowing on any account",
        "us.disputed_debt",
        us("Your dispute does not change anything."),
        True,
    ),
    # co.contact_hours
    (
        "co hours: 19:20 on a weekday",
        "co.contact_hours",
        co(send_at="2027-04-14T19:20:00-05:00"),
        True,
    ),
    (
        "co hours: 18:59 on a weekday",
        "co.contact_hours",
        co(send_at="2027-04-14T18:59:00-05:00"),
        False,
    ),
    (
        "co hours: 19:00 exactly",
        "co.contact_hours",
        co(send_at="2027-04-14T19:00:00-05:00"),
        True,
    ),
    (
        "co hours: Saturday 14:59",
        "co.contact_hours",
        co(send_at="2027-04-17T14:59:00-05:00"),
        False,
    ),
    (
        "co hours: Saturday 15:00",
        "co.contact_hours",
        co(send_at="2027-04-17T15:00:00-05:00"),
        True,
    ),
    (
        "co hours: 06:59 on a weekday",
        "co.contact_hours",
        co(send_at="2027-04-14T06:59:00-05:00"),
        True,
    ),
    (
        "co hours: the debtor asked for 19:00-20:30",
        "co.contact_hours",
        co(
            send_at="2027-04-14T19:45:00-05:00",
            debtor__preferred_hours={"start": "19:00", "end": "20:30"},
        ),
        False,
    ),
    # co.sunday_or_holiday
    (
        "co closed: Sunday",
        "co.sunday_or_holiday",
        co(send_at="2027-04-18T10:00:00-05:00"),
        True,
    ),
    (
        "co closed: Saturday",
        "co.sunday_or_holiday",
        co(send_at="2027-04-17T10:00:00-05:00"),
        False,
    ),
    (
        "co closed: San José moved to Monday 2027-03-22",
        "co.sunday_or_holiday",
        co(send_at="2027-03-22T10:00:00-05:00"),
        True,
    ),
    (
        "co closed: the Tuesday after the holiday",
        "co.sunday_or_holiday",
        co(send_at="2027-03-23T10:00:00-05:00"),
        False,
    ),
    (
        "co closed: a UTC moment that is still Sunday in Bogotá",
        "co.sunday_or_holiday",
        co(send_at="2027-04-19T04:30:00Z"),
        True,
    ),
    # co.contact_frequency
    (
        "co frequency: a second attempt the same day",
        "co.contact_frequency",
        co(
            history=[
                {
                    "at": "2027-04-14T08:00:00-05:00",
                    "channel": "sms",
                    "direction": "outbound",
                    "outcome": "delivered",
                }
            ]
        ),
        True,
    ),
    (
        "co frequency: an inbound message the same day does not count",
        "co.contact_frequency",
        co(
            history=[
                {
                    "at": "2027-04-14T08:00:00-05:00",
                    "channel": "sms",
                    "direction": "inbound",
                    "outcome": "delivered",
                }
            ]
        ),
        False,
    ),
    (
        "co frequency: same channel yesterday",
        "co.contact_frequency",
        co(
            history=[
                {
                    "at": "2027-04-13T18:00:00-05:00",
                    "channel": "sms",
                    "direction": "outbound",
                    "outcome": "delivered",
                }
            ]
        ),
        False,
    ),
    (
        "co frequency: another channel six days ago",
        "co.contact_frequency",
        co(history=calls("2027-04-08T10:00:00-05:00")),
        True,
    ),
    (
        "co frequency: another channel seven days ago",
        "co.contact_frequency",
        co(history=calls("2027-04-07T10:00:00-05:00")),
        False,
    ),
    # co.unauthorized_channel
    (
        "co channel: email not authorized",
        "co.unauthorized_channel",
        co(channel="email", debtor__authorized_channels=["sms", "call"]),
        True,
    ),
    ("co channel: sms authorized", "co.unauthorized_channel", co(), False),
    (
        "co channel: a voicemail rides on an authorized call channel",
        "co.unauthorized_channel",
        co(channel="voicemail", debtor__authorized_channels=["call"]),
        False,
    ),
    # co.third_party_contact
    (
        "co third party: a personal reference",
        "co.third_party_contact",
        co(recipient={"role": "reference", "address": "+573001112244"}),
        True,
    ),
    (
        "co third party: the co-debtor",
        "co.third_party_contact",
        co(recipient={"role": "co_debtor", "address": "+573001112255"}),
        False,
    ),
    (
        "co third party: the spouse is not a co-debtor",
        "co.third_party_contact",
        co(recipient={"role": "spouse", "address": "+573001112266"}),
        True,
    ),
    (
        "co third party: threatening to call the family",
        "co.third_party_contact",
        co("Si no paga, llamaremos a su familia."),
        True,
    ),
    # co.visit_threat
    (
        "co visit: announced home visit",
        "co.visit_threat",
        co("Un asesor irá a visitarlo a su casa."),
        True,
    ),
    (
        "co visit: promise never to visit",
        "co.visit_threat",
        co("Nunca lo visitaremos en su domicilio ni en su empleo."),
        False,
    ),
    (
        "co visit: visita domiciliaria",
        "co.visit_threat",
        co("Programamos una visita domiciliaria."),
        True,
    ),
    # co.ask_default_reason
    (
        "co reason: asks why",
        "co.ask_default_reason",
        co("¿Por qué no ha pagado?"),
        True,
    ),
    (
        "co reason: says it does not need to know",
        "co.ask_default_reason",
        co("No necesitamos conocer los motivos del atraso."),
        False,
    ),
    (
        "co reason: asks for the motives",
        "co.ask_default_reason",
        co("Cuéntenos los motivos de su atraso."),
        True,
    ),
    # co.threat_criminal
    (
        "co criminal: denuncia penal",
        "co.threat_criminal",
        co("Lo denunciaremos penalmente."),
        True,
    ),
    (
        "co criminal: negated",
        "co.threat_criminal",
        co("No pagar no es un delito y nunca habrá denuncia penal."),
        False,
    ),
    ("co criminal: police", "co.threat_criminal", co("Llamaremos a la policía."), True),
    # co.threat_legal_action
    (
        "co legal: embargo without a process",
        "co.threat_legal_action",
        co("Procederemos con el embargo de su salario."),
        True,
    ),
    (
        "co legal: a process is open",
        "co.threat_legal_action",
        co(
            "Procederemos con el embargo de su salario.",
            account__legal_process_open=True,
        ),
        False,
    ),
    (
        "co legal: intent alone is not an open process",
        "co.threat_legal_action",
        co(
            "Procederemos con el embargo de su salario.",
            account__legal_action_intended=True,
        ),
        True,
    ),
    # co.credit_report_threat
    (
        "co report: report without prior notice",
        "co.credit_report_threat",
        co("Lo reportaremos en DataCrédito."),
        True,
    ),
    (
        "co report: notice sent 25 days before",
        "co.credit_report_threat",
        co(
            "Lo reportaremos en DataCrédito.",
            account__negative_report_notice_sent_at="2027-03-20",
        ),
        False,
    ),
    (
        "co report: notice sent exactly 20 days before",
        "co.credit_report_threat",
        co(
            "Lo reportaremos en DataCrédito.",
            account__negative_report_notice_sent_at="2027-03-25",
        ),
        False,
    ),
    (
        "co report: notice sent 19 days before",
        "co.credit_report_threat",
        co(
            "Lo reportaremos en DataCrédito.",
            account__negative_report_notice_sent_at="2027-03-26",
        ),
        True,
    ),
    (
        "co report: promise not to blacklist",
        "co.credit_report_threat",
        co("No lo reportaremos en listas negras."),
        False,
    ),
    (
        "co report: 'de por vida' even after notice",
        "co.credit_report_threat",
        co(
            "Quedará de por vida en su historial.",
            account__negative_report_notice_sent_at="2027-03-01",
        ),
        True,
    ),
    # co.undisclosed_fees
    (
        "co fees: unrecorded collection fee",
        "co.undisclosed_fees",
        co("Incluye gastos de cobranza."),
        True,
    ),
    (
        "co fees: recorded collection fee",
        "co.undisclosed_fees",
        co(
            "Incluye gastos de cobranza.",
            account__fees=[{"kind": "gastos_cobranza", "amount": 95000}],
        ),
        False,
    ),
    (
        "co fees: says no fees are charged",
        "co.undisclosed_fees",
        co("No cobramos honorarios."),
        False,
    ),
    # fact.amount_mismatch
    (
        "fact amount: transposed digits",
        "fact.amount_mismatch",
        us(text=US_TEXT.replace("$1,240.50", "$1,204.50")),
        True,
    ),
    ("fact amount: the balance", "fact.amount_mismatch", us(), False),
    (
        "fact amount: the balance written 1240.5 USD",
        "fact.amount_mismatch",
        us(text=US_TEXT.replace("$1,240.50", "1240.5 USD")),
        False,
    ),
    (
        "fact amount: the right number in the wrong currency",
        "fact.amount_mismatch",
        us(text=US_TEXT.replace("$1,240.50", "COP 1.240,50")),
        True,
    ),
    (
        "fact amount: plan instalment and recorded fee",
        "fact.amount_mismatch",
        us(
            "Your instalment is $145.00 and a $32.00 fee was added.",
            account__payment_plan={"instalment": 145, "next_due": "2027-04-20"},
            account__fees=[{"kind": "late_fee", "amount": 32}],
        ),
        False,
    ),
    (
        "fact amount: Colombian millions in words",
        "fact.amount_mismatch",
        co(text="Su saldo es de 1,25 millones de pesos."),
        False,
    ),
    (
        "fact amount: Colombian apostrophe millions",
        "fact.amount_mismatch",
        co(text="Su saldo es de $1'250.000."),
        False,
    ),
    (
        "fact amount: a wrong Colombian amount",
        "fact.amount_mismatch",
        co(text="Su saldo es de $1.520.000."),
        True,
    ),
    # fact.date_mismatch
    (
        "fact date: a deadline the account does not record",
        "fact.date_mismatch",
        us(text=US_TEXT.replace("April 1, 2027", "April 30, 2027")),
        True,
    ),
    ("fact date: the due date", "fact.date_mismatch", us(), False),
    (
        "fact date: 04/01/2027 is month first in English",
        "fact.date_mismatch",
        us(text=US_TEXT.replace("April 1, 2027", "04/01/2027")),
        False,
    ),
    (
        "fact date: 01/04/2027 is day first in Spanish",
        "fact.date_mismatch",
        co(text="Su fecha de pago fue el 01/04/2027."),
        False,
    ),
    (
        "fact date: 15 de abril without a year",
        "fact.date_mismatch",
        co(text="Pague antes del 15 de abril."),
        True,
    ),
    # fact.wrong_language
    (
        "fact language: Spanish text asked in English",
        "fact.wrong_language",
        us(
            text="Hola Ana, le escribe un cobrador de deudas sobre su saldo pendiente de la "
            "cuenta. Responda BAJA para no recibir más mensajes."
        ),
        True,
    ),
    ("fact language: English as asked", "fact.wrong_language", us(), False),
    (
        "fact language: too short to tell",
        "fact.wrong_language",
        us(language="es", text="Hola, Ana."),
        False,
    ),
]


@pytest.mark.parametrize(
    ("rule", "data", "expected"),
    [
        pytest.param(rule, data, expected, id=case_id)
        for case_id, rule, data, expected in CASES
    ],
)
def test_rule_table(rule: str, data: dict[str, Any], expected: bool) -> None:
    result = get_engine().check(Proposal.model_validate(data))
    reported = {v.rule for v in result.violations}
    assert (rule in reported) is expected, [v.message for v in result.violations]


def test_every_catalogue_rule_has_violating_and_clean_cases() -> None:
    violating = {rule for _, rule, _, expected in CASES if expected}
    clean = {rule for _, rule, _, expected in CASES if not expected}
    all_rules = set(get_engine().rules("US")) | set(get_engine().rules("CO"))
    assert all_rules == violating
    assert all_rules == clean


@pytest.mark.parametrize("base", [US_BASE, CO_BASE], ids=["us base", "co base"])
def test_the_base_proposals_are_clean(base: dict[str, Any]) -> None:
    result = get_engine().check(Proposal.model_validate(base))
    assert result.violations == []
    assert result.allowed
