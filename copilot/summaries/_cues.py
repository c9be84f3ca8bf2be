"""Cue patterns for reading a call, matched on accent-free lowercase text.

Each table is data: what people say when they reject an offer, ask for a payment plan,
or dispute a debt, in English and Spanish. The extraction logic lives in ``extract.py``.
"""

from __future__ import annotations

import re


def _rx(*alternatives: str) -> re.Pattern[str]:
    return re.compile("|".join(f"(?:{a})" for a in alternatives))


# --- amounts: what kind of figure is this? ------------------------------------------

BALANCE = _rx(
    r"\b(?:balance|owes?|owed|owing|outstanding|remaining|left|in total|total|"
    r"past due|overdue|behind by)\b",
    r"\b(?:saldo|debe|debes|deuda|vencid\w*|en mora|mora|pendiente\w*|quedari\w*|"
    r"atrasad\w*|en total|total)\b",
)
COMMITMENT = _rx(
    r"\b(?:i can|i could|i'll|i will|i'm going to|i am going to|let me|i'd pay|"
    r"i would pay|we can do|i'll pay|i can pay)\b",
    r"\b(?:puedo|podria|voy a|le pago|les pago|le abono|le consigno|me comprometo|"
    r"le doy|pagaria|abonaria)\b",
)
PAST = _rx(
    r"\b(?:i|we|she|he)\s+(?:already\s+)?(?:paid|sent|made|mailed|transferred)\b",
    r"\balready\s+(?:paid|sent|made)\b",
    r"\b(?:last\s+(?:week|month)|was\s+received|received\s+your|was\s+posted)\b",
    r"\b(?:ya|yo|ayer)\s+(?:le\s+|les\s+)?(?:pague|abone|consigne|transferi|cancele)\b",
    r"\b(?:pague|abone|consigne|transferi)\s+(?:ayer|la\s+semana\s+pasada|"
    r"el\s+mes\s+pasado|hace)\b",
    r"\b(?:hice|habia\s+hecho)\s+un\s+(?:pago|abono)\b",
    r"\b(?:recibimos|fue\s+recibido|se\s+recibio)\b",
)
IDENTIFIER = _rx(
    r"\b(?:number|ending|ends\s+in|reference|code|extension|ext|zip|apartment|apt|"
    r"suite|numero|termina|referencia|codigo|cedula|extension|oficina|piso|calle|"
    r"carrera|street|avenue|avenida)\b\W*$",
)

# --- turn stance ----------------------------------------------------------------------

REJECT = _rx(
    r"^\W*no\b",
    r"\b(?:isn't happening|not happening|can't|cannot|can not|no way|won't|too much|"
    r"too high|not possible|not agreeing|don't think so|not going to|i'm not able)\b",
    r"\b(?:no puedo|imposible|no me alcanza|es mucho|es demasiado|no alcanzo|"
    r"no acepto|no voy a|ni modo|no me (?:puedo )?comprometo|no me queda)\b",
)
ACCEPT = _rx(
    r"^\W*(?:okay|ok|sure|yes|yeah|yep|fine|great|perfect|correct|deal|alright|"
    r"all right|got it|that's right|si|listo|correcto|de acuerdo|perfecto|bueno|vale|"
    r"dale|claro|muy bien|hecho|exacto|eso es|bien)\b",
    r"\b(?:that works|sounds good|agreed|set that up|we have a deal|"
    r"queda (?:registrado|anotado)|quedo (?:registrado|anotado)|me parece bien|"
    r"trato hecho|de acuerdo|sin falta)\b",
)
REFUSED = _rx(
    r"\b(?:can't|cannot|can not|won't|isn't happening|not happening|no way|"
    r"not able to|unable to|couldn't)\b",
    r"\bno\s+(?:puedo|podria|alcanzo|me\s+alcanza|voy\s+a)\b|\bimposible\b",
)
CORRECTION = _rx(
    r"\b(?:actually|i mean|i meant|sorry|instead|rather|make it|scratch that|"
    r"mejor dicho|mejor|perdon|quiero decir|mas bien|en vez de|en lugar de|corrijo)\b",
)
TENTATIVE = _rx(
    r"\b(?:maybe|might|perhaps|not sure|i'll try|i will try|i'll see|hopefully|"
    r"if i can|possibly|probably)\b",
    r"\b(?:quizas|quiza|tal vez|a lo mejor|de pronto|voy a ver|intentare|si puedo|"
    r"no se si|posiblemente|ojala)\b",
)
ADDITION = _rx(r"\b(?:also|another|plus|on top of that|ademas|tambien|aparte)\b")
EACH = _rx(r"\b(?:each|apiece|cada\s+un[oa]|cada)\b")

# --- requests (debtor's words) --------------------------------------------------------

WORKPLACE = _rx(
    r"\b(?:work|job|office|employer|workplace|boss|hr|trabajo|oficina|empresa|"
    r"empleador|jefe|recursos humanos)\b",
)
NO_CONTACT_VERB = _rx(
    r"\b(?:don't|do not|never|stop|quit|no more)\b.{0,30}\b(?:call|calling|contact|"
    r"contacting|phone|ring|text|texting|email|emailing|write|message)\w*",
    r"\bno\s+(?:me\s+|nos\s+)?(?:vuelv\w+\s+a\s+)?(?:llam|contact|escrib|busqu|"
    r"molest|mand)\w*",
    r"\bdej\w+\s+de\s+(?:llam|contact|escrib|buscar|molest|mand)\w*",
    r"\bno\s+(?:quiero|deseo)\s+(?:que\s+me\s+)?(?:mas\s+)?(?:llam|contact|escrib|"
    r"mensaj|correo|busqu)\w*",
    r"\bno\s+mas\s+(?:llamadas|mensajes|correos|whatsapp)\b",
)
CEASE = _rx(
    r"\b(?:stop|cease)\s+(?:all\s+)?(?:contact(?:ing)?|communicat\w+)\b",
    r"\b(?:don't|do not|never)\s+contact\s+me\b(?!\s+(?:at|on|by|through|via))",
    r"\bleave me alone\b",
    r"\b(?:don't|do not)\s+want\s+to\s+hear\s+from\s+(?:you|anyone)\b",
    r"\bno\s+(?:me\s+)?(?:vuelv\w+\s+a\s+)?(?:contact|busqu|molest)\w*(?!.{0,20}"
    r"\b(?:al|a este|en el|por)\b)",
    r"\bdej\w+\s+de\s+(?:contact|buscar|molest)\w*",
    r"\bno\s+quiero\s+(?:que\s+me\s+(?:sigan\s+)?(?:contact|busqu|molest)\w*|"
    r"saber\s+nada)",
)
CHANNEL_WORDS = {
    "call": r"\b(?:call\w*|phone|ring|llam\w*|celular|telefono|movil)\b",
    "sms": r"\b(?:text\w*|sms|mensaje\w*|mensajito\w*)\b",
    "email": r"\b(?:e-?mail\w*|correo\w*)\b",
    "whatsapp": r"\bwhats\s?app\b",
    "letter": r"\b(?:letter|mail me|carta|correspondencia|writing|por escrito)\b",
}
PREFERENCE = _rx(
    r"\b(?:i(?:'d)?\s+prefer|i'd rather|better\s+(?:by|to)|just\s+(?:email|text|write)|"
    r"instead)\b",
    r"\b(?:prefiero|preferiria|mejor)\b",
    r"\b(?:text|email|e-mail|write|message)\s+me\b",
    r"\b(?:escribanme|escribame|escribeme|mandenme|mandeme|envienme|envieme)\b",
)
CALLBACK = _rx(
    r"\bcall\s+(?:me\s+)?back\b",
    r"\b(?:can|could)\s+you\s+call\s+(?:me\s+)?(?:later|tomorrow|again|another|after|"
    r"in|on|at|next)\b",
    r"\bcall\s+me\s+(?:later|tomorrow|after|in\s+the|on|next|another\s+time)\b",
    r"\bbetter\s+time\s+to\s+call\b",
    r"\b(?:llameme|llamame|llamenme)\s+(?:mas\s+tarde|luego|despues|manana|otro\s+dia|"
    r"en\s+la|el|la\s+otra|a\s+las)\b",
    r"\b(?:me|nos)\s+(?:puede|pueden|podria|podrian)\s+(?:volver\s+a\s+)?llamar\s+"
    r"(?:mas\s+tarde|luego|despues|manana|otro\s+dia|en\s+la|el|a\s+las|la\s+otra)\b",
    r"(?<!no )\b(?:vuelva|vuelvan)\s+a\s+llamar(?:me)?\s+(?:mas\s+tarde|luego|"
    r"despues|manana|otro\s+dia|en\s+la|el|a\s+las)\b",
)
PAYMENT_PLAN = _rx(
    r"\b(?:payment\s+plan|installment\w*|instalment\w*|in\s+(?:two|three|four|2|3|4)\s+"
    r"(?:pieces|parts|payments)|split\s+(?:it|the|this|that)|break\s+it\s+(?:up|down)|"
    r"spread\s+(?:it|the|this)|pay\s+(?:it\s+)?(?:off\s+)?(?:over\s+time|in\s+parts|"
    r"monthly|a\s+little\s+at\s+a\s+time)|set\s+up\s+a\s+plan|arrangement)\b",
    r"\b(?:acuerdo\s+de\s+pago|plan\s+de\s+pagos?|en\s+cuotas|por\s+cuotas|a\s+cuotas|"
    r"a\s+plazos|por\s+partes|dividir\w*|diferir|financiar|refinanci\w*|"
    r"en\s+(?:dos|tres|cuatro|2|3|4)\s+(?:pagos|partes|cuotas|contados))\b",
)
VALIDATION = _rx(
    r"\bprove\b",
    r"\bproof\s+(?:of|that)\b",
    r"\b(?:verif\w+|validat\w+)\b",
    r"\bsend\s+me\s+(?:the\s+|whatever\s+|some\s+|any\s+|a\s+)?(?:paperwork|documents|"
    r"documentation|proof|statement|copy|contract|bill)\b",
    r"\bin\s+writing\b",
    r"\bwho\s+(?:is|was)\s+the\s+original\s+creditor\b",
    r"\b(?:demuestre\w*|demuestren\w*|pruebe\w*|comprueb\w*)\b",
    r"\b(?:soportes?|documentacion|documentos|certificacion|validacion|verificacion)\b",
    r"\bconstancia\s+de\s+la\s+deuda\b",
    r"\b(?:envie\w*|mande\w*)\s+(?:el|la|los|las)\s+(?:contrato|pagare|estado de cuenta)\b",
)
ATTORNEY = _rx(
    r"\b(?:lawyer|attorney|legal\s+counsel|my\s+counsel|legal\s+aid)\b",
    r"\b(?:abogad[oa]s?|apoderad[oa]|asesor\s+legal|asesoria\s+legal)\b",
)
NEGATED_BEFORE = _rx(
    r"\b(?:don't|do not|never|no)\s+(?:have|need|tengo|necesito)\b[^.]{0,20}$",
    r"\bno\s+(?:tengo|necesito)\s+(?:un\s+|una\s+)?$",
)
HARDSHIP_CIRCUMSTANCE = _rx(
    r"\b(?:lost\s+(?:my|his|her|our)\s+(?:job|income|work|house|home)|laid\s+off|"
    r"unemployed|out\s+of\s+work|between\s+jobs|furlough\w*|hours\s+(?:got\s+)?cut|"
    r"medical\s+(?:bills?|expenses|emergency|problems?)|hospital\w*|surgery|sick|"
    r"illness|cancer|disabilit\w+|disabled|passed\s+away|died|death\s+in|divorce\w*|"
    r"fixed\s+income|evicted|eviction|accident)\b",
    r"\b(?:sin\s+(?:empleo|trabajo|ingresos)|me\s+quede\s+sin|desemplead\w*|"
    r"me\s+(?:despidieron|echaron)|perdi\s+(?:el|mi)\s+(?:empleo|trabajo)|"
    r"gastos\s+medicos|enferm\w+|hospital\w*|incapacidad|cirugia|falleci\w*|murio|"
    r"separacion|divorcio|me\s+redujeron|accidente|calamidad)\b",
)
INABILITY = _rx(
    r"\b(?:can't|cannot|can not)\s+(?:pay|afford)\s+(?:anything|right now|at all|"
    r"any of it|now)\b",
    r"\b(?:no money|nothing to pay|don't have (?:the|any) money|can't afford|"
    r"can't pay anything)\b",
    r"\bno\s+tengo\s+(?:como|con\s+que)\s+pagar\b",
    r"\bno\s+(?:tengo|hay)\s+(?:plata|dinero|ingresos)\b",
    r"\bno\s+puedo\s+pagar\s+(?:nada|ahora|por\s+ahora)\b",
)
RELIEF = _rx(
    r"\b(?:hardship|forbearance|defer\w*|postpone\w*|pause|more\s+time|grace\s+period|"
    r"hold\s+off)\b",
    r"\b(?:periodo\s+de\s+(?:espera|gracia)|mas\s+tiempo|aplaz\w+|congel\w+|pausa\w*|"
    r"alivio|prorroga)\b",
)
AFFIRM = _rx(
    r"^\W*(?:yes|yeah|sure|okay|ok|please|that would help|si|claro|por favor|"
    r"me serviria|eso me serviria)\b",
    r"\b(?:that would help|me serviria|me ayudaria)\b",
)
DISPUTE = _rx(
    r"\b(?:i|we)\s+(?:don't|do not|dont)\s+owe\b",
    r"\bnot\s+my\s+(?:debt|account|bill|card|loan)\b",
    r"\b(?:isn't|is not|wasn't|was not)\s+(?:mine|my\s+(?:debt|account))\b",
    r"\bnever\s+(?:had|opened|signed\s+up|took\s+out|used)\b",
    r"\bpaid\s+(?:that|it|this|them|the\s+bill|that\s+bill|this\s+bill)?\s*"
    r"(?:bill\s+)?in\s+full\b",
    r"\balready\s+paid\s+(?:that|it|this|off)\b",
    r"\bi\s+dispute\b",
    r"\bdispute\s+(?:this|the|that)\b",
    r"\b(?:identity\s+theft|wrong\s+person|not\s+me)\b",
    r"\b(?:yo\s+)?no\s+(?:le\s+|les\s+)?debo\b",
    r"\beso\s+no\s+es\s+mio\b",
    r"\bno\s+es\s+mi\s+(?:deuda|credito|cuenta|tarjeta)\b",
    r"\bnunca\s+(?:tuve|saque|firme|abri|pedi)\b",
    r"\bya\s+(?:lo\s+|la\s+)?(?:pague|cancele)\s+(?:todo|completo|completa|en\s+su\s+totalidad)\b",
    r"\bya\s+esta\s+pag[oa]\b",
    r"\bno\s+reconozco\b",
    r"\bsuplantacion\b",
)

# --- details for the summary ----------------------------------------------------------

PAYMENT_METHODS: tuple[tuple[str, str], ...] = (
    (r"\bbank\s+transfer\b", "bank transfer"),
    (r"\bdebit\s+card\b", "debit card"),
    (r"\bcredit\s+card\b", "credit card"),
    (r"\bmoney\s+order\b", "money order"),
    (r"\b(?:by|with|a|mail\s+a|send\s+a|personal)\s+(?:check|cheque)\b", "check"),
    (r"\bzelle\b", "Zelle"),
    (r"\bpaypal\b", "PayPal"),
    (r"\bvenmo\b", "Venmo"),
    (r"\b(?:in|pay|with|by)\s+cash\b|\bcash\s+payment\b", "cash"),
    (r"\bpse\b", "PSE"),
    (r"\bnequi\b", "Nequi"),
    (r"\bdaviplata\b", "Daviplata"),
    (r"\befecty\b", "Efecty"),
    (r"\bbaloto\b", "Baloto"),
    (r"\bcorresponsal\s+bancario\b", "corresponsal bancario"),
    (r"\bconsignacion\b", "consignación"),
    (r"\btransferencia\b", "transferencia"),
    (r"\befectivo\b", "efectivo"),
    (r"\btarjeta\s+debito\b", "tarjeta débito"),
    (r"\bonline\b", "online"),
    (r"\ben\s+linea\b", "en línea"),
)
CREDITOR = re.compile(
    r"(?:\bowed\s+to|\byour|\bsu|\bsus|\ben\s+nombre\s+de|\ben\s+representaci[oó]n\s+de|"
    r"\bon\s+behalf\s+of|\bcrédito\s+con|\bcredito\s+con|\bcuenta\s+con)\s+"
    r"((?:[A-ZÁÉÍÓÚÑ][\w'&.-]*)(?:\s+(?:(?:de|del|la|las|los|y|&|of|the)\s+)?"
    r"[A-ZÁÉÍÓÚÑ][\w'&.-]*){0,4})"
)

# Words addressed to a machine, not to the other party: such a turn is no negotiation.
INSTRUCTION = _rx(
    r"\b(?:ignore|disregard|forget|override)\s+(?:all\s+|any\s+|the\s+)?(?:previous|prior|"
    r"above|earlier|your|these|those)\s+(?:instructions|rules|prompts?|guidelines)\b",
    r"^\W*(?:system|assistant|ai|copilot|model)\s*:",
    r"\byou\s+are\s+now\b|\b(?:admin|developer|god)\s+mode\b",
    r"\b(?:ignor\w+|olvid\w+|omit\w+)\s+(?:todas\s+)?(?:las\s+)?instrucciones\b",
    r"\bmodo\s+(?:admin\w*|desarrollador)\b",
)
