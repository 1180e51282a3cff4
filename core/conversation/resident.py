"""The resident's side of the desk, as tables: the repair and feedback intakes, and the questions after a repair.

Read the tables at the bottom first (REPAIR, FEEDBACK, REWORK, RATING, and RESIDENT with its commands); the
functions above them are each row's question and how its answer is read.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta

from core.conversation.buttons import OnTicket, Pick
from core.conversation.commands import (
    AddDetail,
    AnswerQuote,
    Chase,
    ConfirmFix,
    EndChat,
    Join,
    Rate,
    RejectFix,
    SubmitTicket,
    Withdraw,
)
from core.conversation.context import OpenReport
from core.conversation.engine import END, NEXT, SAME, WAIT, Conversation, Flow, Step, Turn, with_a_person
from core.conversation.messages import Choice, Reply
from core.conversation.state import Draft
from core.conversation.views import resident_list, resident_view, stars, status_for_resident
from core.conversation.vocabulary import (
    AGENT_WORDS,
    BACK_WORDS,
    CATEGORY_LABELS,
    FEEDBACK_STARTERS,
    URGENCY_LABELS,
    URGENCY_WORDS,
    category_label,
    fold,
    keys_for,
    meaningful,
    says_more_than,
)
from core.domain.lifecycle import withdrawable
from core.domain.model import (
    FEEDBACK_CATEGORIES,
    LIVE_CHAT,
    REPAIR_CATEGORIES,
    Attachment,
    Location,
    Source,
    Status,
    Ticket,
    TicketKind,
    Urgency,
)
from core.domain.people import Address, first_name, in_language
from core.domain.places import find_place
from core.domain.tickets import TicketDraft
from core.i18n import LOCALES, N_

CHASE_INTERVAL = timedelta(hours=1)
PICK_ONE = N_("Please pick one of the choices, by its number or its name.")


# --- starting and ending a report ------------------------------------------------------------------------------


def start_repair(turn: Turn, text: str) -> None:
    draft = Draft(attachments=turn.state.draft.attachments)
    if turn.context.in_group:
        draft.origin_chat, draft.origin_message = turn.inbound.chat, turn.inbound.message_ref
    turn.state.draft = draft
    if text and meaningful(text):
        absorb(turn, text)
    turn.enter("repair")


def absorb(turn: Turn, text: str) -> None:
    """Take everything a free-form description already says: place, symptom, category, urgency."""
    draft, rules = turn.state.draft, turn.context.rules
    if not draft.has_location:
        place = find_place(turn.context.estate, text, turn.context.speaker.rooms, fuzzy=False)
        if place.room or place.common_area:
            draft.room, draft.area = place.room, place.common_area
        elif place.candidates and not turn.context.in_group:
            turn.state.candidates = list(place.candidates)
        elif place.problem:  # "9-9-9999 厨房漏水": say why the place is asked for, not just ask
            estate = in_language(turn.context.estate.name, turn.t.locale)
            turn.say(turn.t("I can't find {room} in {estate}.").format(room=place.problem, estate=estate))
    draft.description = text
    draft.category = draft.category or rules.category(text)
    draft.safety_word = rules.safety_word(text)
    if draft.safety_word:
        draft.urgency = Urgency.EMERGENCY.value


def start_feedback(turn: Turn, text: str) -> None:
    turn.state.draft = Draft(attachments=turn.state.draft.attachments)
    content = says_more_than(text, FEEDBACK_STARTERS)
    if content and turn.context.in_group:
        turn.state.draft.description = text  # feedback may name people or be anonymous: taken in private only
    elif content:
        turn.state.draft.category = turn.context.rules.feedback_category(text)
        if out_of_scope(turn, text):
            turn.state.leave()
            return
    turn.enter("feedback")


def out_of_scope(turn: Turn, text: str) -> bool:
    """Keep the message; True when it is a matter for someone else, which has been recorded and answered."""
    draft = turn.state.draft
    draft.description = text
    matter = turn.context.rules.out_of_scope_for(text)
    if matter is None:
        return False
    draft.category = draft.category or "other"
    submit(turn, outcome="out_of_scope", pointer=turn.context.rules.pointer(matter, turn.t), kind=TicketKind.FEEDBACK)
    return True


def submit(turn: Turn, outcome: str = "open", pointer: str = "", kind: TicketKind | None = None) -> None:
    draft, speaker, inbound = turn.state.draft, turn.context.speaker, turn.inbound
    kind = kind or (TicketKind.REPAIR if turn.state.flow == "repair" else TicketKind.FEEDBACK)
    category = draft.category or "other"
    department = turn.context.estate.department_for(category) if kind is TicketKind.FEEDBACK else None
    ticket = TicketDraft(
        kind=kind,
        source=Source.RESIDENT_CHAT,
        location=draft.location(),
        category=category,
        description=draft.description,
        urgency=Urgency(draft.urgency or "normal"),
        reporter=speaker.name,
        reporter_resident_id=speaker.resident_id,
        reporter_contact=draft.caller if turn.state.on_behalf else speaker.phone,
        reporter_address=speaker.address,
        anonymous=bool(draft.anonymous),
        verified=speaker.known,
        department=department.name if department else "",
        attachments=tuple(Attachment(**a) for a in draft.attachments),
        origin=Address(inbound.channel, draft.origin_chat) if draft.origin_chat else None,
        origin_message=draft.origin_message,
        lowered_from_emergency=draft.lowered_safety_word if draft.urgency != Urgency.EMERGENCY.value else "",
    )  # fmt: skip
    turn.emit(SubmitTicket(ticket, outcome, pointer))


def keep_attachments(turn: Turn) -> None:
    draft = turn.state.draft
    for attachment in turn.inbound.attachments:
        item = {"kind": attachment.kind, "ref": attachment.ref, "caption": attachment.caption}
        if item not in draft.attachments:
            draft.attachments.append(item)


def private_choice(turn: Turn) -> list[Choice]:
    if not turn.inbound.private_link:
        return []
    return [Choice(None, turn.t("🔒 Continue privately"), url=turn.inbound.private_link)]


# --- the repair intake -----------------------------------------------------------------------------------------


def same_open_report(turn: Turn) -> OpenReport | None:
    draft = turn.state.draft
    if draft.area is None:
        return None
    return next(
        (r for r in turn.context.look.open_reports() if r.common_area == draft.area and r.category == draft.category),
        None,
    )


def ask_location(turn: Turn) -> None:
    t = turn.t
    if turn.context.in_group:
        # Room numbers stay out of the group: a home is for the private chat.
        turn.ask(
            t("Where is it? Reply with a shared place, such as 车库 (garage) or 3号楼电梯.")
            + "\n"
            + t("For a fault in your home, continue privately, so your room number stays out of the group."),
            private_choice(turn),
        )
        return
    rooms = turn.context.speaker.rooms
    examples = t("For example: 1-1-1201, 1栋1单元1201, or a shared place like 车库 (garage).")
    if rooms:
        choices = [turn.choice(Pick("room", room), room) for room in rooms]
        choices.append(turn.choice(Pick("place", "other"), t("Somewhere else")))
        turn.ask(t("Where is the problem? Tap your home, or type the place.") + "\n" + examples, choices)
    else:
        turn.ask(t("Where is the problem? Type the room or the place.") + "\n" + examples)


def answer_location(turn: Turn) -> str:
    draft, t = turn.state.draft, turn.t
    chosen = turn.chosen
    if isinstance(chosen, Pick) and chosen.what == "room":
        draft.room = chosen.value
        return "found"
    if chosen == Pick("place", "other"):
        turn.ask(t("Type the place: a room like 1-1-1201, or a shared place like 车库 (garage) or 3号楼电梯."))
        return "type_it"
    pin = next((a for a in turn.inbound.attachments if a.kind == "location"), None)
    if pin is not None and not meaningful(turn.text):
        draft.place_text = t("Location pin: {where}").format(where=pin.caption or pin.ref)
        turn.say(t("Thanks for the pin. Staff will match it to the place."))
        return "found"
    place = find_place(turn.context.estate, turn.text, turn.context.speaker.rooms)
    if place.room or place.common_area:
        draft.room, draft.area = place.room, place.common_area
        if not draft.description and turn.context.rules.category(turn.text):
            draft.description = turn.text
            draft.category = draft.category or turn.context.rules.category(turn.text)
        return "found"
    if place.candidates and turn.context.in_group:
        return "home"  # room numbers are for the private chat, which the question offers
    if place.candidates:
        turn.state.candidates = list(place.candidates)
        return "units"
    rules = turn.context.rules
    # Not every word of a trade ("the west gate" is a place): words that say something is wrong, or how badly.
    says_fault = rules.says_broken(turn.text) or rules.urgency(turn.text) is not Urgency.NORMAL
    if says_fault and not place.problem and not draft.description:  # the problem, told before the place
        absorb(turn, turn.text)
        turn.say(t("I've noted the problem."))
        return "described"
    draft.unknown_place = turn.text.strip()
    return "unknown"


def ask_unknown_place(turn: Turn) -> None:
    """A place the directory does not know: use it as written, pick a shared place, or type it again."""
    t, estate, typed = turn.t, turn.context.estate, turn.state.draft.unknown_place
    problem = find_place(estate, typed, turn.context.speaker.rooms).problem
    said = (t("I can't find {room} in {estate}.").format(room=problem, estate=in_language(estate.name, t.locale))
            if problem
            else t("Sorry, I don't know the place “{place}”.").format(place=typed))  # fmt: skip
    choices = [turn.choice(Pick("place", "as_written"), t("✍️ Use “{place}” as written").format(place=typed))]
    choices += [Choice(Pick("area", area.name), in_language(area.name, t.locale),
                       (area.name, *(in_language(area.name, locale) for locale in LOCALES), *area.aliases))
                for area in estate.common_areas]  # fmt: skip
    turn.ask(said + "\n" + t("Use it as written (staff will check it), pick a shared place, or type the place again."),
             choices)  # fmt: skip


def answer_unknown_place(turn: Turn) -> str:
    draft, chosen = turn.state.draft, turn.chosen
    if chosen == Pick("place", "as_written"):
        draft.place_text, draft.unknown_place = draft.unknown_place, ""
        return "found"
    if isinstance(chosen, Pick) and chosen.what == "area":
        draft.area, draft.unknown_place = chosen.value, ""
        return "found"
    return answer_location(turn)  # the place typed again


def ask_location_unit(turn: Turn) -> None:
    turn.ask(turn.t("Which unit is it?"), [turn.choice(Pick("room", room), room) for room in turn.state.candidates])


def answer_location_unit(turn: Turn) -> str:
    """A unit, or the place typed again from the start."""
    turn.state.candidates = []
    chosen = turn.chosen
    if isinstance(chosen, Pick) and chosen.what == "room":
        turn.state.draft.room = chosen.value
        return "found"
    return answer_location(turn)


def ask_symptom(turn: Turn) -> None:
    turn.ask(turn.t("What is wrong? Describe it in a few words; a photo helps too."))


def answer_symptom(turn: Turn) -> str:
    draft, rules = turn.state.draft, turn.context.rules
    if not meaningful(turn.text):
        turn.ask(turn.t("Got the photo, thank you. Please also describe the problem in a few words."))
        return "photo_only"
    draft.description = turn.text
    if not turn.state.returning or not draft.category:
        draft.category = rules.category(turn.text) or draft.category
    draft.safety_word = rules.safety_word(turn.text) or draft.safety_word
    if draft.safety_word:
        draft.urgency = Urgency.EMERGENCY.value
    return "described"


def ask_category(turn: Turn) -> None:
    t, flow = turn.t, turn.state.flow
    categories = REPAIR_CATEGORIES if flow == "repair" else FEEDBACK_CATEGORIES
    current = turn.state.draft.category
    ordered = sorted(categories, key=lambda c: c != current)
    choices = [
        turn.choice(Pick("category", c), ("✓ " if c == current else "") + t(CATEGORY_LABELS[c])) for c in ordered
    ]
    if flow == "feedback":
        question = t("What is your feedback about?")
    elif current:
        question = t("Which kind of problem is it? I think: {category}.").format(category=category_label(current, t))
    else:
        question = t("Which kind of problem is it?")
    turn.ask(question, choices)


def answer_category(turn: Turn) -> str:
    chosen, rules = turn.chosen, turn.context.rules
    category = chosen.value if isinstance(chosen, Pick) and chosen.what == "category" else None
    if category is None:
        category = rules.category(turn.text) if turn.state.flow == "repair" else rules.feedback_category(turn.text)
    if category is None:
        turn.say(turn.t(PICK_ONE))
        return "unclear"
    turn.state.draft.category = category
    return "chosen"


def ask_join(turn: Turn) -> None:
    report = same_open_report(turn)
    assert report is not None, "the flow's order asks this only when there is one"
    t = turn.t
    reported = (
        t.plural("{number} is already open for this: {category} at {place}, reported by {count} resident. "
                 "Join it to get its updates, instead of a new report?",
                 "{number} is already open for this: {category} at {place}, reported by {count} residents. "
                 "Join it to get its updates, instead of a new report?", report.reporters)
        if report.reporters
        else t("{number} is already open for this: {category} at {place}, found by our staff. "
               "Join it to get its updates, instead of a new report?")
    )  # fmt: skip
    turn.ask(
        reported.format(
            number=report.number,
            category=category_label(report.category, turn.t),
            place=in_language(report.common_area, turn.t.locale),
            count=report.reporters,
        ),
        [
            turn.choice(Pick("join", report.number), turn.t("👍 Join it")),
            turn.choice(Pick("new"), turn.t("New report")),
        ],
    )


def answer_join(turn: Turn) -> str:
    chosen, draft = turn.chosen, turn.state.draft
    if isinstance(chosen, Pick) and chosen.what == "join":
        turn.emit(Join(chosen.value, draft.origin_chat, draft.origin_message))
        return "joined"
    if chosen == Pick("new"):
        draft.join_asked = True
        return "new"
    turn.say(turn.t(PICK_ONE))
    return "unclear"


def ask_urgency(turn: Turn) -> None:
    draft, t = turn.state.draft, turn.t
    proposed = turn.context.rules.urgency(draft.description)
    if draft.category == "lift" and proposed is Urgency.NORMAL:
        proposed = Urgency.URGENT
    # One fixed order, most urgent first, so that a typed "2" means the same in every report.
    choices = [
        turn.choice(Pick("urgency", u.value), ("✓ " if u is proposed else "") + t(URGENCY_LABELS[u])) for u in Urgency
    ]
    turn.ask(t("How urgent is it? I suggest: {urgency}.").format(urgency=t(URGENCY_WORDS[proposed])), choices)


def answer_urgency(turn: Turn) -> str:
    chosen = turn.chosen
    if not (isinstance(chosen, Pick) and chosen.what == "urgency"):
        turn.say(turn.t(PICK_ONE))
        return "unclear"
    turn.state.draft.urgency = chosen.value
    return "chosen"


def self_check_tip(turn: Turn) -> str | None:
    return turn.context.rules.self_check(turn.state.draft.category or "", turn.t)


def ask_self_check(turn: Turn) -> None:
    t = turn.t
    turn.ask(
        self_check_tip(turn) or "",
        [
            turn.choice(Pick("fixed"), t("✅ Fixed it myself")),
            turn.choice(Pick("broken"), t("🔧 Still broken: send someone")),
        ],
    )


def answer_self_check(turn: Turn) -> str:
    if turn.chosen == Pick("fixed"):
        submit(turn, outcome="self_resolved")
        return "fixed"
    if turn.chosen == Pick("broken"):
        turn.state.draft.self_checked = True
        return "broken"
    turn.say(turn.t(PICK_ONE))
    return "unclear"


def summary(turn: Turn) -> str:
    draft, t = turn.state.draft, turn.t
    location = draft.room or in_language(draft.area or "", t.locale) or draft.place_text or "-"
    if turn.context.in_group and draft.room:
        location = t("your home (not shown in the group)")
    if turn.state.flow == "repair":
        lines = [
            t("Please check your report:"),
            t("Place: {place}").format(place=location),
            t("Problem: {problem}").format(problem=draft.description),
            t("Type: {category}").format(category=category_label(draft.category or "other", t)),
            t("Urgency: {urgency}").format(urgency=t(URGENCY_WORDS[Urgency(draft.urgency or "normal")])),
        ]
        if draft.safety_word:
            lines.append(t('Kept at emergency because you mentioned "{word}".').format(word=draft.safety_word))
    else:
        lines = [
            t("Please check your feedback:"),
            t("About: {category}").format(category=category_label(draft.category or "other", t)),
            t("Message: {text}").format(text=draft.description),
            t("Place or thing: {place}").format(place=location if draft.has_location else t("(none)")),
            t("Name shown to staff: {answer}").format(answer=t("no, anonymous") if draft.anonymous else t("yes")),
        ]
    if draft.attachments:
        lines.append(t("Attachments: {count}").format(count=len(draft.attachments)))
    return "\n".join(lines)


def ask_confirm(turn: Turn) -> None:
    t = turn.t
    turn.ask(
        summary(turn),
        [turn.choice(Pick("yes"), t("✅ Submit")), turn.choice(Pick("change"), t("✏️ Change something")),
         turn.choice(Pick("cancel"), t("✖️ Cancel"))],
    )  # fmt: skip


def answer_confirm(turn: Turn) -> str:
    chosen = turn.chosen
    if chosen == Pick("yes"):
        submit(turn)
        return "submit"
    if chosen == Pick("change"):
        return "change"
    if chosen == Pick("cancel"):
        discard(turn)
        return "cancel"
    if turn.state.flow == "repair" and meaningful(turn.text) and len(turn.text) > 3:
        # More words about the fault: add them rather than ask again.
        turn.state.draft.description = f"{turn.state.draft.description}\n{turn.text}".strip()
        turn.say(turn.t("Added to the description."))
        return "added"
    turn.say(turn.t(PICK_ONE))
    return "unclear"


def discard(turn: Turn) -> None:
    turn.ask(turn.t("Report discarded; nothing was sent."), [] if turn.state.on_behalf else menu_choices(turn))


FIELDS = {
    "repair": (("location", N_("Place")), ("symptom", N_("Problem")), ("category", N_("Type")),
               ("urgency", N_("Urgency"))),
    "feedback": (("category", N_("About")), ("fb_content", N_("Message")), ("fb_place", N_("Place or thing")),
                 ("fb_anonymous", N_("Name shown to staff"))),
}  # fmt: skip


def ask_change(turn: Turn) -> None:
    fields = FIELDS[turn.state.flow]
    turn.ask(
        turn.t("What would you like to change?"), [turn.choice(Pick("field", f), turn.t(label)) for f, label in fields]
    )


def answer_change(turn: Turn) -> str:
    chosen, draft = turn.chosen, turn.state.draft
    if not (isinstance(chosen, Pick) and chosen.what == "field"):
        turn.say(turn.t(PICK_ONE))
        return "unclear"
    target = chosen.value
    if target == "location":
        draft.room = draft.area = draft.place_text = None
        draft.unknown_place = ""
    turn.state.returning = True
    if target == "urgency" and draft.safety_word:
        return "lower"  # the risk is named before an emergency can be lowered
    return target


def ask_lower_emergency(turn: Turn) -> None:
    t, word = turn.t, turn.state.draft.safety_word
    turn.ask(
        t('You mentioned "{word}": that is why this is an emergency, and someone comes at once. '
          "If there could be gas, fire, smoke, sparks or someone trapped, keep it an emergency. "
          "Is there really no danger?").format(word=word),
        [turn.choice(Pick("keep"), t("🚨 Keep it an emergency")),
         turn.choice(Pick("lower"), t("⬇️ No danger: lower it"))],
    )  # fmt: skip


def answer_lower_emergency(turn: Turn) -> str:
    draft = turn.state.draft
    if turn.chosen == Pick("keep"):
        turn.say(turn.t('This stays an emergency because you mentioned "{word}".').format(word=draft.safety_word))
        return "kept"
    if turn.chosen != Pick("lower"):
        turn.say(turn.t(PICK_ONE))
        return "unclear"
    draft.lowered_safety_word, draft.safety_word, draft.urgency = draft.safety_word or "", None, None
    return "lowered"


# --- the feedback intake ---------------------------------------------------------------------------------------


def ask_private_only(turn: Turn) -> None:
    turn.ask(turn.t("Feedback is taken in private. Please continue in a private chat with me."), private_choice(turn))


def answer_private_only(turn: Turn) -> str:
    return "still_here"


def ask_fb_content(turn: Turn) -> None:
    turn.ask(turn.t("Please write your feedback. Photos are welcome too."))


def answer_fb_content(turn: Turn) -> str:
    if not meaningful(turn.text):
        turn.ask(turn.t("Thank you. Please also say in a few words what it is about."))
        return "photo_only"
    return "out_of_scope" if out_of_scope(turn, turn.text) else "written"


def ask_fb_place(turn: Turn) -> None:
    turn.ask(
        turn.t("Is it about a particular place or thing? Type it, or skip."),
        [turn.choice(Pick("skip"), turn.t("Skip"))],
    )


def answer_fb_place(turn: Turn) -> str:
    draft = turn.state.draft
    draft.place_asked = True
    draft.room = draft.area = draft.place_text = None
    if turn.chosen != Pick("skip"):
        place = find_place(turn.context.estate, turn.text, turn.context.speaker.rooms)
        draft.room, draft.area = place.room, place.common_area
        if not place.found:
            draft.place_text = turn.text
    return "given"


def ask_fb_anonymous(turn: Turn) -> None:
    t = turn.t
    turn.ask(
        t("Should staff see your name? Anonymous feedback still gets its reply here."),
        [turn.choice(Pick("named"), t("With my name")), turn.choice(Pick("anonymous"), t("Anonymously"))],
    )


def answer_fb_anonymous(turn: Turn) -> str:
    if turn.chosen not in (Pick("named"), Pick("anonymous")):
        turn.say(turn.t(PICK_ONE))
        return "unclear"
    turn.state.draft.anonymous = turn.chosen == Pick("anonymous")
    return "chosen"


# --- after a repair: what is still wrong, and a comment with the rating -------------------------------------


def ask_rework_reason(turn: Turn) -> None:
    turn.ask(
        turn.t("Sorry to hear that. What is still wrong with {number}? One message, please.").format(
            number=turn.state.ticket
        )
    )


def answer_rework_reason(turn: Turn) -> str:
    number = turn.state.ticket
    turn.emit(RejectFix(number, turn.text))
    turn.say(
        turn.t("Sorry it isn't right yet. {number} goes back for rework; we'll tell you when it is done.").format(
            number=number
        )
    )
    return "given"


def ask_rating_comment(turn: Turn) -> None:
    turn.ask(
        turn.t("Thank you for rating {number} {stars}. Anything to add? Write it, or tap Skip.").format(
            number=turn.state.ticket, stars="⭐" * turn.state.rating
        ),
        [turn.choice(Pick("skip"), turn.t("Skip"))],
    )


def answer_rating_comment(turn: Turn) -> str:
    if turn.chosen == Pick("skip"):
        turn.say(turn.t("Thank you!"))
        return "skipped"
    turn.emit(Rate(turn.state.ticket, turn.state.rating, turn.text))
    turn.say(turn.t("Thank you! Your comment is passed on."))
    return "given"


# --- the tables ------------------------------------------------------------------------------------------------


def _lacks_place(turn: Turn) -> bool:
    return not turn.state.draft.has_location


def _walk_in(turn: Turn) -> bool:
    """/new for a place where no resident of the directory lives: the caller is asked for, to reach them."""
    draft = turn.state.draft
    if not turn.state.on_behalf or draft.caller_asked or not draft.has_location:
        return False
    return not (draft.room and turn.context.estate.residents_of(draft.room))


def ask_caller(turn: Turn) -> None:
    t = turn.t
    turn.ask(t("Who reported it? Their name and phone, so the technician can reach them. Or tap Skip."),
             [turn.choice(Pick("skip"), t("Skip"))])  # fmt: skip


def answer_caller(turn: Turn) -> str:
    draft = turn.state.draft
    draft.caller_asked = True
    draft.caller = "" if turn.chosen == Pick("skip") else turn.text.strip()
    return "given"


def _self_check_applies(turn: Turn) -> bool:
    draft = turn.state.draft
    return (
        not draft.self_checked
        and draft.room is not None  # the tips are for a home: its breaker box, its valves
        and draft.urgency != Urgency.EMERGENCY
        # water through a ceiling is not a valve of one's own to check, even when the resident calls it normal
        and turn.context.rules.urgency(draft.description) is not Urgency.EMERGENCY
        and not turn.state.on_behalf
        and self_check_tip(turn) is not None
    )


CATEGORY = Step(ask_category, answer_category, {"chosen": NEXT, "unclear": SAME})
REPAIR = Flow(
    "repair",
    #  step             question             answer                  what the answer came to → where it goes
    steps={
        "location":      Step(ask_location,      answer_location,      {"found": NEXT, "units": "location_unit",
                                                                        "type_it": WAIT, "unknown": "unknown_place",
                                                                        "home": SAME, "described": "location"}),
        "location_unit": Step(ask_location_unit, answer_location_unit, {"found": NEXT, "units": "location_unit",
                                                                        "type_it": WAIT, "unknown": "unknown_place",
                                                                        "home": "location", "described": "location"}),
        "unknown_place": Step(ask_unknown_place, answer_unknown_place, {"found": NEXT, "units": "location_unit",
                                                                        "type_it": WAIT, "unknown": SAME,
                                                                        "home": "location", "described": "location"}),
        "symptom":       Step(ask_symptom,       answer_symptom,       {"described": NEXT, "photo_only": WAIT}),
        "category":      CATEGORY,
        "join":          Step(ask_join,          answer_join,          {"joined": END, "new": NEXT, "unclear": SAME}),
        "urgency":       Step(ask_urgency,       answer_urgency,       {"chosen": NEXT, "unclear": SAME}),
        "caller":        Step(ask_caller,        answer_caller,        {"given": NEXT}),
        "self_check":    Step(ask_self_check,    answer_self_check,    {"fixed": END, "broken": NEXT, "unclear": SAME}),
        "confirm":       Step(ask_confirm,       answer_confirm,       {"submit": END, "change": "change",
                                                                        "cancel": END, "added": "confirm",
                                                                        "unclear": SAME}),
        "change":        Step(ask_change,        answer_change,        {"location": "location", "symptom": "symptom",
                                                                        "category": "category", "urgency": "urgency",
                                                                        "lower": "lower", "kept": "confirm",
                                                                        "unclear": SAME}),
        "lower":         Step(ask_lower_emergency, answer_lower_emergency, {"kept": "confirm", "lowered": "urgency",
                                                                            "unclear": SAME}),
    },
    # What the report still lacks decides the next question.
    order=(
        ("location_unit", lambda turn: bool(turn.state.candidates)),
        ("location",      _lacks_place),
        ("symptom",       lambda turn: not turn.state.draft.description),
        ("category",      lambda turn: not turn.state.draft.category),
        ("join",          lambda turn: not turn.state.draft.join_asked and not turn.state.on_behalf
                                       and same_open_report(turn) is not None),
        ("urgency",       lambda turn: not turn.state.draft.urgency),
        ("caller",        _walk_in),
        ("self_check",    _self_check_applies),
        ("confirm",       lambda turn: True),
    ),
    lapsed=N_("Your unfinished report from earlier was dropped after 30 minutes without an answer."),
    survives_commands=True,
)  # fmt: skip
FEEDBACK = Flow(
    "feedback",
    steps={
        "private_only":  Step(ask_private_only,  answer_private_only,  {"still_here": SAME}),
        "category":      CATEGORY,
        "fb_content":    Step(ask_fb_content,    answer_fb_content,    {"written": NEXT, "photo_only": WAIT,
                                                                        "out_of_scope": END}),
        "fb_place":      Step(ask_fb_place,      answer_fb_place,      {"given": NEXT}),
        "fb_anonymous":  Step(ask_fb_anonymous,  answer_fb_anonymous,  {"chosen": NEXT, "unclear": SAME}),
        "confirm":       REPAIR.steps["confirm"],
        "change":        Step(ask_change,        answer_change,        {"category": "category",
                                                                        "fb_content": "fb_content",
                                                                        "fb_place": "fb_place",
                                                                        "fb_anonymous": "fb_anonymous",
                                                                        "unclear": SAME}),
    },
    order=(
        ("private_only",  lambda turn: turn.context.in_group),
        ("category",      lambda turn: not turn.state.draft.category),
        ("fb_content",    lambda turn: not turn.state.draft.description),
        ("fb_place",      lambda turn: not turn.state.draft.place_asked),
        ("fb_anonymous",  lambda turn: turn.state.draft.anonymous is None),
        ("confirm",       lambda turn: True),
    ),
    lapsed=REPAIR.lapsed,
    survives_commands=True,
)  # fmt: skip
REWORK = Flow("rework", {"reason": Step(ask_rework_reason, answer_rework_reason, {"given": END})})


def ask_detail(turn: Turn) -> None:
    turn.ask(turn.t("What would you like to add to {number}? Write it, or send a photo.").format(
        number=turn.state.ticket))  # fmt: skip


def answer_detail(turn: Turn) -> str:
    add_to(turn, turn.state.ticket)
    return "added"


def add_to(turn: Turn, number: str) -> bool:
    """What the message says and the photos it carries, added to a report (/add, a reply to its confirmation, a
    conversation with customer service); False when it has neither."""
    text = turn.text.strip() if meaningful(turn.text) else ""
    photos = tuple(a for a in turn.inbound.attachments if a.kind == "photo")
    if text or photos:
        turn.emit(AddDetail(number, text, photos))
    return bool(text or photos)


ADD = Flow("add", {"detail": Step(ask_detail, answer_detail, {"added": END})})
RATING = Flow("rating", {"comment": Step(ask_rating_comment, answer_rating_comment, {"given": END, "skipped": END})})


# --- what works whatever is asked: the menu, commands, buttons on tickets -------------------------------------


def menu_choices(turn: Turn) -> list[Choice]:
    t = turn.t
    return [
        turn.choice(Pick("menu", "repair"), t("🔧 Report a repair")),
        turn.choice(Pick("menu", "feedback"), t("💬 Feedback or complaint")),
        turn.choice(Pick("menu", "tickets"), t("📋 My tickets")),
        turn.choice(Pick("menu", "help"), t("❓ Help")),
        turn.choice(Pick("menu", "lang"), "🌐 中文 / English"),
    ]


def menu(turn: Turn, greet: bool = False) -> None:
    t = turn.t
    estate = in_language(turn.context.estate.name, t.locale)
    if greet or not turn.notes:
        if turn.context.speaker.known:
            hello = t("Hello {name}! This is the {estate} repair desk.").format(
                name=first_name(turn.context.speaker.name, t.locale), estate=estate
            )
        else:
            hello = t("Hello! This is the {estate} repair desk.").format(estate=estate)
        text = hello + "\n" + t("What can I do for you?")
    else:
        text = t("What can I do for you?")
    turn.ask(text, menu_choices(turn))


def idle(turn: Turn) -> None:
    """A message when nothing is asked: the menu's choices and words, or straight into a report; while customer
    service talks with them, it is for customer service."""
    if turn.chosen is None and not turn.context.in_group and open_chat(turn) is not None:
        turn.enter("talk", "talking")
        turn.go(TALK.steps["talking"].then[answer_talking(turn)])
        return
    if turn.chosen is None and added_by_reply(turn):
        return
    chosen, menu_on_screen = turn.chosen, menu_choices(turn)
    typed = fold(turn.text)
    if chosen is None and not turn.state.shown and typed.isdecimal() and 1 <= int(typed) <= len(menu_on_screen):
        chosen = menu_on_screen[int(typed) - 1].button  # nothing else shown: a number picks from the menu
    if chosen is None:  # the menu's words work even when the menu is not on screen
        chosen = next((c.button for c in menu_on_screen if typed in (fold(k) for k in c.keys)), None)
    text = turn.text
    if chosen == Pick("menu", "repair"):
        start_repair(turn, "")
    elif chosen == Pick("menu", "feedback"):
        start_feedback(turn, "")
    elif chosen == Pick("menu", "tickets"):
        show_my_tickets(turn, "")
    elif chosen == Pick("menu", "help"):
        turn.ask(help_text(turn), menu_choices(turn))
    elif chosen == Pick("menu", "lang"):
        ask_language(turn, "")
    elif not meaningful(text) and not turn.inbound.attachments:
        turn.say(turn.t("Hello! Tell me in a few words what is wrong, or pick from the menu."))
        menu(turn)
    elif (told := what_it_starts(turn)) == "feedback":
        start_feedback(turn, text)
    elif told == "repair":
        start_repair(turn, text)
    else:
        menu(turn, greet=True)


def what_it_starts(turn: Turn) -> str | None:
    """The report a message begins by itself, said straight out: "repair", "feedback", or None (a greeting)."""
    rules, text = turn.context.rules, turn.text
    if any(word in text.casefold() for word in FEEDBACK_STARTERS) or rules.out_of_scope_for(text) is not None:
        return "feedback"
    if rules.category(text) or rules.safety_word(text) or rules.says_broken(text) or rules.urgency(text) != "normal":
        return "repair"
    if rules.feedback_category(text) is not None and says_more_than(text, FEEDBACK_STARTERS):
        return "feedback"  # a complaint said straight out ("楼上邻居半夜噪音太大了") is kept, not dropped
    return None


def resume(turn: Turn) -> None:
    if turn.state.flow == "talk":
        return  # a conversation with a person asks nothing
    turn.say(turn.t("Let's continue your report."))
    turn.go(SAME)


# --- talking to a person ---------------------------------------------------------------------------------------


def open_chat(turn: Turn) -> Ticket | None:
    """Their conversation with customer service, while it is open."""
    return next((t for t in turn.context.look.reported_by(turn.context.speaker) if t.is_chat and t.is_active), None)


def talk_to_person(turn: Turn, rest: str) -> None:
    """转人工 / "agent": customer service takes the conversation over until they hand it back; a report being
    written waits, and is taken up again after."""
    t, speaker = turn.t, turn.context.speaker
    if turn.context.in_group:
        turn.say(t("To talk to a person, write to me in a private chat."), private_choice(turn))
        return
    chat = open_chat(turn)
    if chat is not None:
        if chat.assignee_id is not None:
            turn.say(
                t(
                    "{name} of customer service is answering you here ({number}). Send /bot to go back to the "
                    "assistant."
                ).format(name=first_name(chat.assignee_name, t.locale), number=chat.number)
            )
        else:
            turn.say(t("Customer service will answer you here soon ({number}). Send /bot to go back to the "
                       "assistant.").format(number=chat.number))  # fmt: skip
        turn.enter("talk")
        return
    department = turn.context.estate.chat_department()
    writing = turn.state.draft.description if turn.state.flow in ("repair", "feedback") else ""
    draft = TicketDraft(
        kind=TicketKind.FEEDBACK, source=Source.RESIDENT_CHAT, location=Location(), category=LIVE_CHAT,
        description=rest.strip() or writing or turn.inbound.text.strip(), urgency=Urgency.NORMAL, reporter=speaker.name,
        reporter_resident_id=speaker.resident_id, reporter_contact=speaker.phone, reporter_address=speaker.address,
        verified=speaker.known, department=department.name if department else "",
    )  # fmt: skip
    turn.emit(SubmitTicket(draft))
    turn.enter("talk")


def ask_talking(turn: Turn) -> None:
    """Nothing is asked: what is said goes to customer service (the request's confirmation said so)."""


def answer_talking(turn: Turn) -> str:
    chat = open_chat(turn)
    if chat is None:  # customer service handed them back: the message is the assistant's again
        turn.state.leave()
        if what_it_starts(turn) is None and turn.take_up_paused():
            resume(turn)  # "ok": the report begun before the conversation goes on
        else:
            idle(turn)  # something new is read afresh; a report set aside waits for it to be done
        return "over"
    add_to(turn, chat.number)
    if chat.assignee_id is None:
        turn.say(turn.t("Passed on: customer service will see it when they answer. Send /bot to go back to the "
                        "assistant."))  # fmt: skip
    return "said"


def added_by_reply(turn: Turn) -> bool:
    """A reply to a message about one of their reports (its confirmation, say) adds to that report, as /add does."""
    numbers = re.findall(r"\b[A-Z]{1,8}-\d{8}-\d{4}\b", turn.inbound.replying_to.upper())
    ticket = turn.context.look.ticket(numbers[0]) if numbers else None
    speaker = turn.context.speaker
    if ticket is None or not ticket.is_active or not ticket.reported_by(speaker.resident_id, speaker.address):
        return False
    if ticket.quote_waiting is not None:  # "agree" in reply to the quote answers it
        which = len(ticket.quotes)
        answers = (OnTicket("quote", ticket.number, f"yes:{which}"), OnTicket("quote", ticket.number, f"no:{which}"))
        said = [b for b in answers if fold(turn.text) in (fold(k) for k in keys_for(b))]
        if len(said) == 1:
            turn.emit(AnswerQuote(ticket.number, agree=said[0] == answers[0], quote=which))
            return True
    return add_to(turn, ticket.number)


def back_to_the_assistant(turn: Turn, rest: str) -> None:
    """/bot: the resident leaves the conversation with customer service."""
    chat = open_chat(turn)
    if chat is None:
        turn.ask(turn.t("You are talking to the assistant already. What can I do for you?"), menu_choices(turn))
        return
    turn.emit(EndChat(chat.number))
    turn.state.leave()
    if turn.take_up_paused():
        turn.conversation.resume(turn)


def continue_privately(turn: Turn) -> None:
    """Arrived through the "continue privately" link from a group: pick the draft up here."""
    state = turn.state
    if state.flow in ("repair", "feedback"):
        turn.say(turn.t("Let's continue your report here, in private."))
        draft = state.draft
        if state.flow == "feedback" and draft.description and not draft.category:
            draft.category = turn.context.rules.feedback_category(draft.description)
        turn.go(NEXT)
    else:
        state.leave()
        turn.say(turn.t("That report is no longer open; let's start a new one."))
        menu(turn)


def after_command(turn: Turn) -> None:
    """Outside a report, the menu (in the middle of one, the engine picks the report up again)."""
    if turn.flow is None:
        menu(turn)


def cancel(turn: Turn, rest: str) -> None:
    if turn.state.flow == "talk":  # leaving the conversation with customer service, as /bot does
        back_to_the_assistant(turn, rest)
        return
    if turn.state.flow or turn.state.paused:
        turn.state.drop()
        discard(turn)
    else:
        turn.ask(turn.t("There is nothing to cancel."), menu_choices(turn))


def start(turn: Turn, rest: str) -> None:
    chat = open_chat(turn)
    if chat is not None:
        turn.emit(EndChat(chat.number))  # the menu means the assistant again: customer service is told
    turn.state.drop()
    menu(turn, greet=True)


def report(turn: Turn, rest: str) -> None:
    turn.state.drop()
    start_repair(turn, rest)


def feedback(turn: Turn, rest: str) -> None:
    turn.state.drop()
    start_feedback(turn, rest)


def help_text(turn: Turn) -> str:
    return turn.t(
        "I take repair reports and feedback for {estate}.\n"
        '• Describe a fault in one message, e.g. "kitchen pipe leaking in 1-1-1201", and I\'ll ask for the rest.\n'
        "• /tickets: your open tickets · /status NUMBER: one ticket\n"
        "• /withdraw NUMBER: cancel a report nobody is working on yet · /chase NUMBER: ask us to hurry\n"
        "• /add NUMBER: add a detail or a photo to a report\n"
        "• /cancel: drop the report you're writing · /lang: 中文 / English · /start: the menu"
    ).format(estate=in_language(turn.context.estate.name, turn.t.locale))


def show_help(turn: Turn, rest: str) -> None:
    turn.say(help_text(turn))
    after_command(turn)


def ask_language(turn: Turn, rest: str) -> None:
    choices = [turn.choice(Pick("lang", "zh_CN"), "中文"), turn.choice(Pick("lang", "en"), "English")]
    turn.ask("请选择语言 / Choose your language", choices)


def show_my_tickets(turn: Turn, rest: str) -> None:
    found = resident_list(turn.context.look.reported_by(turn.context.speaker), turn.t)
    if not found.choices:
        found = Reply(found.text, (turn.choice(Pick("menu", "repair"), turn.t("🔧 Report a repair")),))
    turn.say_privately([found])


def example_number(turn: Turn) -> str:
    """Their own latest ticket, or what a ticket number of this estate looks like today."""
    latest = turn.context.look.latest_number(turn.context.speaker)
    if latest:
        return latest
    today = turn.now.astimezone(turn.context.settings.zone)
    return f"{turn.context.estate.code.upper()}-{today:%Y%m%d}-0001"


def about_one(verb: str) -> Callable[[Turn, str], None]:
    def command(turn: Turn, rest: str) -> None:
        if not rest:
            example = f"/{verb} {example_number(turn)}"
            turn.say(turn.t("Please add the ticket number, for example: {example}").format(example=example))
            after_command(turn)
            return
        on_ticket(turn, OnTicket(verb, rest.split()[0]))

    return command


def own_ticket(turn: Turn, number: str, joined_too: bool = False) -> Ticket | None:
    """Their ticket (with `joined_too`, or one they joined), or None: another resident's ticket is not even said
    to exist."""
    ticket = turn.context.look.ticket(number)
    speaker = turn.context.speaker
    if ticket is None:
        return None
    if ticket.reported_by(speaker.resident_id, speaker.address):
        return ticket
    return ticket if joined_too and turn.context.look.joined(ticket, speaker) else None


def on_ticket(turn: Turn, button: OnTicket) -> None:
    """The buttons on a resident's tickets, valid whenever pressed: see, withdraw, chase, and the verdict."""
    t = turn.t
    # Who joined a ticket follows it: they see it and may chase it; the verdict and withdrawing are the reporter's.
    ticket = own_ticket(turn, button.number, joined_too=button.verb in ("status", "chase"))
    if ticket is None:
        turn.say_privately([Reply(t("I can't find a ticket {number} of yours. Send /tickets to see them.").format(
            number=button.number))])  # fmt: skip
        return
    number, status = ticket.number, status_for_resident(ticket, t)
    if button.verb == "status":
        mine = ticket.reported_by(turn.context.speaker.resident_id, turn.context.speaker.address)
        may_withdraw = mine and withdrawable(ticket, turn.now)
        turn.say_privately([resident_view(ticket, t, turn.context.settings.zone, may_withdraw)])
    elif button.verb == "withdraw":
        phone = turn.context.estate.phone
        if withdrawable(ticket, turn.now):
            turn.emit(Withdraw(number))
            said = t("{number} is withdrawn. Nobody will be sent.")
        elif phone:
            said = t("{number} can't be withdrawn here: its status is “{status}”. Please call the front desk: {phone}.")
        else:
            said = t("{number} can't be withdrawn here: its status is “{status}”. Please call the front desk.")
        turn.say_privately([Reply(said.format(number=number, status=status, phone=phone))])
    elif button.verb == "chase":
        chase(turn, ticket)
    elif button.verb == "add":
        if ticket.is_active:
            turn.state.ticket = number
            turn.enter("add", "detail")
        else:
            turn.say_privately([Reply(t("{number} is {status}; nothing can be added to it now.").format(
                number=number, status=status))])  # fmt: skip
    elif button.verb in ("fixed", "notfixed"):
        verdict(turn, ticket, fixed=button.verb == "fixed")
    elif button.verb == "rate" and button.argument.isdecimal() and 1 <= int(button.argument) <= 5:
        rate(turn, ticket, int(button.argument))
    elif button.verb == "quote" and button.argument.partition(":")[0] in ("yes", "no"):
        answer, _, which = button.argument.partition(":")
        turn.emit(AnswerQuote(number, agree=answer == "yes", quote=int(which) if which.isdecimal() else 0))
    else:
        turn.say(t("That button belongs to an earlier question."))


def chase(turn: Turn, ticket: Ticket) -> None:
    t, zone = turn.t, turn.context.settings.zone
    if not ticket.is_active:
        turn.say_privately([Reply(t("{number} is {status}; there is nothing to chase.").format(
            number=ticket.number, status=status_for_resident(ticket, t)))])  # fmt: skip
        return
    last = max((e.at for e in ticket.history if e.action == "chase"), default=None)
    interval = CHASE_INTERVAL
    if last is not None and turn.now - last < interval:
        turn.say_privately([Reply(t("You chased {number} at {when}. You can chase again after {next}.").format(
            number=ticket.number, when=last.astimezone(zone).strftime("%H:%M"),
            next=(last + interval).astimezone(zone).strftime("%H:%M")))])  # fmt: skip
        return
    turn.emit(Chase(ticket.number))
    turn.say_privately([Reply(t("We've reminded the team about {number}. Thank you for your patience.").format(
        number=ticket.number))])  # fmt: skip


def verdict(turn: Turn, ticket: Ticket, fixed: bool) -> None:
    t = turn.t
    if ticket.status is not Status.RESOLVED:
        turn.say(t("{number} is {status}; there is nothing to confirm now.").format(
            number=ticket.number, status=status_for_resident(ticket, t)))  # fmt: skip
        return
    turn.set_aside()
    if fixed:
        turn.emit(ConfirmFix(ticket.number))
        turn.ask(
            t("Glad to hear it! {number} is closed. How would you rate the service?").format(number=ticket.number),
            stars(ticket),
        )
        return
    turn.state.ticket = ticket.number
    turn.enter("rework", "reason")


def rate(turn: Turn, ticket: Ticket, rating: int) -> None:
    t = turn.t
    if ticket.status is not Status.CLOSED:
        turn.say(t("{number} can be rated once it is closed.").format(number=ticket.number))
        return
    turn.set_aside()
    turn.emit(Rate(ticket.number, rating))
    turn.state.ticket, turn.state.rating = ticket.number, rating
    turn.enter("rating", "comment")


def unknown_command(turn: Turn, command: str) -> None:
    turn.say(turn.t("I don't know the command {command}. Send /help to see what I can do.").format(command=command))
    after_command(turn)


TALK = with_a_person("talking", ask_talking, answer_talking)
RESIDENT = Conversation(
    flows={flow.name: flow for flow in (REPAIR, FEEDBACK, REWORK, RATING, ADD, TALK)},
    commands={
        "start": start, "menu": start, "help": show_help, "cancel": cancel, "lang": ask_language,
        "language": ask_language, "tickets": show_my_tickets, "mytickets": show_my_tickets,
        "status": about_one("status"), "withdraw": about_one("withdraw"), "chase": about_one("chase"),
        "add": about_one("add"),
        "report": report, "feedback": feedback, "agent": talk_to_person, "human": talk_to_person,
        "bot": back_to_the_assistant,
    },
    on_ticket=on_ticket,
    idle=idle,
    offer=menu,
    before=keep_attachments,
    unknown_command=unknown_command,
    resume=resume,
    continue_privately=continue_privately,
    stale=N_("That button belongs to an earlier question."),
    unreadable=N_("I can only read words here. Please answer in a few words, or tap a choice."),
    private_in_groups=False,
    worded={fold(word): "agent" for word in AGENT_WORDS} | {fold(word): "bot" for word in BACK_WORDS},
)  # fmt: skip
