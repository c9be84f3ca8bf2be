"""Reading a call: turns, promises across turns, requests and disputes."""

from __future__ import annotations

from datetime import date

import pytest

from copilot.summaries.extract import REQUESTS, extract, parse_turns

WED = date(2027, 2, 17)


def _promises(
    transcript: str, language: str = "en", call_date: date = WED
) -> list[tuple]:
    currency = "COP" if language == "es" else "USD"
    found = extract(
        transcript, call_date=call_date, language=language, currency=currency
    )
    return [(int(o.amount), o.currency, o.date.isoformat()) for o in found.promises]


def _requests(transcript: str, language: str = "en") -> tuple[list[str], bool]:
    found = extract(transcript, call_date=WED, language=language, currency="USD")
    return found.requests, found.disputed


def test_turns_keep_speaker_and_offsets() -> None:
    transcript = (
        "Agent: Hello there.\nDebtor: Hi.\r\nAgente: ¿Cómo está?\n  Debtor:  fine"
    )

    turns = parse_turns(transcript)

    assert [t.speaker for t in turns] == ["agent", "debtor", "agent", "debtor"]
    assert all(transcript[t.start : t.end] == t.text for t in turns)
    assert turns[2].text == "¿Cómo está?"


def test_unlabelled_line_continues_the_previous_turn() -> None:
    transcript = "Agent: first part\nsecond part\nDebtor: ok"

    turns = parse_turns(transcript)

    assert len(turns) == 2
    assert turns[0].text == "first part\nsecond part"
    assert transcript[turns[0].start : turns[0].end] == turns[0].text


PROMISES = [
    (
        "debtor offer confirmed by the agent",
        "Agent: What can you pay?\nDebtor: I can pay a hundred and twenty on Friday.\n"
        "Agent: Okay, $120 on Friday.",
        "en",
        [(120, "USD", "2027-02-19")],
    ),
    (
        "agent suggestion rejected, then a counter-offer",
        "Agent: Could you pay five hundred today?\nDebtor: No, that's too much.\n"
        "Agent: What could you do?\nDebtor: Two fifty next Monday.\nAgent: Deal.",
        "en",
        [(250, "USD", "2027-02-22")],
    ),
    (
        "agent suggestion accepted by the debtor",
        "Agent: Could you do three hundred by the end of the month?\nDebtor: Okay, I can do that.",
        "en",
        [(300, "USD", "2027-02-28")],
    ),
    (
        "agent suggestion left unanswered is no promise",
        "Agent: Could you do three hundred by the end of the month?\n"
        "Debtor: Let me think about it and call you.",
        "en",
        [],
    ),
    (
        "corrected amount in the same turn",
        "Debtor: I can send 300 on Friday, sorry, I mean 250.\nAgent: 250 on Friday, got it.",
        "en",
        [(250, "USD", "2027-02-19")],
    ),
    (
        "corrected date in a later turn",
        "Debtor: I'll pay $200 on Friday.\nAgent: $200 Friday, great.\n"
        "Debtor: Actually, make it Monday the 22nd.\nAgent: Okay.",
        "en",
        [(200, "USD", "2027-02-22")],
    ),
    (
        "past payment is not a promise",
        "Debtor: I already paid $150 last week.\nAgent: Thank you, I see it.",
        "en",
        [],
    ),
    (
        "balance figures are not promises",
        "Agent: Your balance is $1,180.\nDebtor: I'll pay 180 tomorrow.\n"
        "Agent: Thanks. After that the balance would be one thousand dollars.",
        "en",
        [(180, "USD", "2027-02-18")],
    ),
    (
        "tentative offer is no promise",
        "Debtor: Maybe I could do a hundred on Friday, not sure.\nAgent: Let us know.",
        "en",
        [],
    ),
    (
        "tentative offer confirmed later",
        "Debtor: Maybe I could do a hundred on Friday.\nAgent: So $100 this Friday?\n"
        "Debtor: Yes, that's right.",
        "en",
        [(100, "USD", "2027-02-19")],
    ),
    (
        "amount now, date in the next turn",
        "Debtor: I can pay one fifty.\nAgent: When?\nDebtor: The day after tomorrow.",
        "en",
        [(150, "USD", "2027-02-19")],
    ),
    (
        "two payments of one amount",
        "Agent: So two payments of $200: one tomorrow and one on the 1st of March?\n"
        "Debtor: Yes, correct.",
        "en",
        [(200, "USD", "2027-02-18"), (200, "USD", "2027-03-01")],
    ),
    (
        "an amount with no date is no promise",
        "Debtor: I can pay 200 at some point.\nAgent: Okay.",
        "en",
        [],
    ),
    (
        "phone numbers are not promises",
        "Debtor: I'll pay $90 on Friday.\nAgent: Great. Call us at 877 555 0163 if anything changes.",
        "en",
        [(90, "USD", "2027-02-19")],
    ),
    (
        "settlement offered by the agent and accepted",
        "Agent: We can settle this for $600 if it's paid by March 1.\n"
        "Debtor: Deal, I'll pay it by then.\nAgent: Great, $600 by March 1, 2027.",
        "en",
        [(600, "USD", "2027-03-01")],
    ),
    (
        "counter-offer keeps the date under discussion",
        "Agent: Can you do $200 on the 1st?\nDebtor: I can do 150.\n"
        "Agent: OK, 150 on the 1st.",
        "en",
        [(150, "USD", "2027-03-01")],
    ),
    (
        "counter-offer refused by the agent is no promise",
        "Agent: The minimum we can take is $300.\n"
        "Debtor: I can't do 300. I can do 200 on Friday.\n"
        "Agent: I'm sorry, we can't accept less than 300.\n"
        "Debtor: Then I'll just pay nothing for now.",
        "en",
        [],
    ),
    (
        "past payment then a new promise",
        "Debtor: I sent you $100 on Monday.\n"
        "Agent: I see it. Can you pay another 100 next Monday?\nDebtor: Yes.",
        "en",
        [(100, "USD", "2027-02-22")],
    ),
    (
        "full balance promised with a commitment",
        "Agent: You owe $2,318.47. Could you pay it in full by the 26th?\n"
        "Debtor: Okay, I'll pay the full $2,318.47 on the 26th.",
        "en",
        [(2318, "USD", "2027-02-26")],
    ),
    (
        "a figure the debtor cannot pay is no offer",
        "Debtor: My rent is $900 so I can't pay anything.\nAgent: When could you pay?\n"
        "Debtor: Friday, maybe.",
        "en",
        [],
    ),
    (
        "refused figure and offered figure in one turn",
        "Debtor: I can't do 300, but I can do 200 on Friday.\nAgent: Okay.",
        "en",
        [(200, "USD", "2027-02-19")],
    ),
    (
        "no puedo esa cifra pero sí otra",
        "Deudor: No puedo pagar 300 mil, pero sí 150 mil el 28.\nAgente: Listo.",
        "es",
        [(150000, "COP", "2027-02-28")],
    ),
    (
        "dos abonos en un mismo turno",
        "Deudor: Le puedo abonar 100 mil hoy y 100 mil el viernes.\n"
        "Agente: Perfecto, cien mil hoy y cien mil el viernes.",
        "es",
        [(100000, "COP", "2027-02-17"), (100000, "COP", "2027-02-19")],
    ),
    (
        "confirmación con pregunta del gestor",
        "Agente: ¿Cuánto puede pagar?\nDeudor: Unos ochenta mil, el 28.\n"
        "Agente: ¿Ochenta mil el 28 de febrero?\nDeudor: Sí señor.",
        "es",
        [(80000, "COP", "2027-02-28")],
    ),
    (
        "oferta del deudor en palabras y fecha relativa",
        "Agente: ¿Cuánto puede abonar?\nDeudor: Ciento cincuenta mil pesos el próximo lunes.\n"
        "Agente: Listo, ciento cincuenta mil el lunes.",
        "es",
        [(150000, "COP", "2027-02-22")],
    ),
    (
        "propuesta del gestor rechazada y contraoferta",
        "Agente: ¿Podría pagar quinientos mil el viernes?\nDeudor: No puedo, es mucho. "
        "Le puedo dar 200 mil el 28.\nAgente: De acuerdo.",
        "es",
        [(200000, "COP", "2027-02-28")],
    ),
    (
        "corrección con 'mejor'",
        "Deudor: Le pago trescientos mil mañana.\nAgente: Perfecto.\n"
        "Deudor: Mejor pasado mañana, perdón.\nAgente: Listo, pasado mañana.",
        "es",
        [(300000, "COP", "2027-02-19")],
    ),
    (
        "pago pasado no es compromiso",
        "Deudor: Ya le pagué cien mil ayer.\nAgente: Gracias, lo verificamos.",
        "es",
        [],
    ),
    (
        "monto en cifras colombianas y quincena",
        "Deudor: Puedo consignar $1.250.000 en la quincena.\nAgente: Queda registrado.",
        "es",
        [(1250000, "COP", "2027-02-28")],
    ),
    (
        "dólares dichos en una llamada colombiana",
        "Deudor: Le pago doscientos dólares el 20.\nAgente: Listo.",
        "es",
        [(200, "USD", "2027-02-20")],
    ),
]


@pytest.mark.parametrize(
    ("transcript", "language", "expected"),
    [row[1:] for row in PROMISES],
    ids=[row[0] for row in PROMISES],
)
def test_promises(transcript: str, language: str, expected: list[tuple]) -> None:
    assert _promises(transcript, language) == expected


REQUEST_CASES = [
    (
        "stop calling me",
        "Debtor: Stop calling me, just email me.",
        "en",
        {"channel_opt_out"},
        False,
    ),
    (
        "leave me alone",
        "Debtor: Stop contacting me. Leave me alone.",
        "en",
        {"cease_contact"},
        False,
    ),
    (
        "not at work",
        "Debtor: Don't call me at my office.",
        "en",
        {"no_work_contact"},
        False,
    ),
    (
        "call back later",
        "Debtor: I'm driving, can you call me back after 5?",
        "en",
        {"callback"},
        False,
    ),
    (
        "installments",
        "Debtor: Can I pay it in installments?",
        "en",
        {"payment_plan"},
        False,
    ),
    (
        "prove it",
        "Debtor: That's not my debt. Send me proof.",
        "en",
        {"validation"},
        True,
    ),
    ("lawyer", "Debtor: My attorney will call you.", "en", {"attorney"}, False),
    ("no lawyer", "Debtor: I don't have a lawyer.", "en", set(), False),
    (
        "job loss and cannot pay",
        "Debtor: I was laid off in March and I can't pay anything right now.",
        "en",
        {"hardship"},
        False,
    ),
    (
        "knows they owe",
        "Debtor: I know I owe it, I just can't deal with it.",
        "en",
        set(),
        False,
    ),
    ("paid in full", "Debtor: I paid it in full last year.", "en", set(), True),
    (
        "no me llamen al trabajo",
        "Deudor: No me llamen al trabajo, por favor.",
        "es",
        {"no_work_contact"},
        False,
    ),
    (
        "no más llamadas",
        "Deudor: Dejen de llamarme. Prefiero WhatsApp.",
        "es",
        {"channel_opt_out"},
        False,
    ),
    (
        "que no lo contacten",
        "Deudor: No me vuelvan a contactar.",
        "es",
        {"cease_contact"},
        False,
    ),
    (
        "llámeme más tarde",
        "Deudor: Estoy ocupado, llámeme más tarde.",
        "es",
        {"callback"},
        False,
    ),
    (
        "acuerdo de pago",
        "Deudor: Quisiera un acuerdo de pago en cuotas.",
        "es",
        {"payment_plan"},
        False,
    ),
    (
        "soportes",
        "Deudor: Yo no debo eso. Envíenme los soportes.",
        "es",
        {"validation"},
        True,
    ),
    ("abogado", "Deudor: Voy a hablar con mi abogado.", "es", {"attorney"}, False),
    (
        "sin empleo y sin cómo pagar",
        "Deudor: Me quedé sin trabajo y no tengo cómo pagar.",
        "es",
        {"hardship"},
        False,
    ),
    (
        "gastos médicos pero paga",
        "Deudor: Tuve gastos médicos. Mañana le pago cien mil.",
        "es",
        set(),
        False,
    ),
    (
        "me deben no es disputa",
        "Deudor: Me pagan una plata que me deben.",
        "es",
        set(),
        False,
    ),
]


@pytest.mark.parametrize(
    ("transcript", "language", "requests", "disputed"),
    [row[1:] for row in REQUEST_CASES],
    ids=[row[0] for row in REQUEST_CASES],
)
def test_requests_and_dispute(
    transcript: str, language: str, requests: set[str], disputed: bool
) -> None:
    found, is_disputed = _requests(transcript, language)

    assert set(found) == requests
    assert set(found) <= set(REQUESTS)
    assert is_disputed is disputed


def test_agent_words_make_no_request() -> None:
    found, disputed = _requests(
        "Agent: Would you like a payment plan? Do you dispute it?"
    )

    assert found == []
    assert disputed is False


def test_preferred_channel_and_method_are_read() -> None:
    found = extract(
        "Agent: How will you pay?\nDebtor: By Nequi. And please no more calls, "
        "I prefer text messages.",
        call_date=WED,
        language="es",
        currency="COP",
    )

    assert found.payment_method == "Nequi"
    assert found.opted_out_channel == "call"
    assert found.preferred_channel == "sms"
