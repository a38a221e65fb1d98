"""Build the Telegram Desktop exports in tests/fixtures/channel/ from the posts of seed 000.

    python tests/make_telegram_fixtures.py [OUTDIR]

Writes `result.json` (machine-readable JSON export) and `html/messages.html` +
`html/messages2.html` (the HTML export, split over two pages as Telegram Desktop does), with
plausible message ids and dates, a service message, a photo without caption, hashtags and links as
entities, reactions, forwarded posts and "joined" messages. The test suite checks that the files
in the repository are what this script writes.
"""

from __future__ import annotations

import html
import json
import re
import sys
from datetime import datetime, timedelta
from pathlib import Path

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE.parent))

from sentaligner.ingest import read_telegram_dump  # noqa: E402

SEED = HERE / "fixtures" / "channel" / "seed000.txt"
CHANNEL = "Посольство России в Норвегии - Russlands Ambassade i Norge"
FIRST_ID = 1401
START = datetime(2025, 12, 22, 9, 30, 0)
LINK_TEXTS = ("🔗 Читать полностью", "🔗 Les mer", "Read in full")
_ENTITY = re.compile(r"#\w+|" + "|".join(re.escape(t) for t in LINK_TEXTS))


def entities(text: str) -> list[dict]:
    """Telegram's `text_entities`: plain runs, hashtags, links, the first line in bold."""
    first, _, rest = text.partition("\n")
    out = [{"type": "bold", "text": first}]
    if _:
        out.append({"type": "plain", "text": "\n"})
    position = 0
    for match in _ENTITY.finditer(rest):
        if match.start() > position:
            out.append({"type": "plain", "text": rest[position:match.start()]})
        if match.group().startswith("#"):
            out.append({"type": "hashtag", "text": match.group()})
        else:
            out.append({"type": "text_link", "text": match.group(), "href": "https://oslo.mid.ru/ru/news/"})
        position = match.end()
    if position < len(rest):
        out.append({"type": "plain", "text": rest[position:]})
    return [e for e in out if e["text"]]


def messages() -> list[dict]:
    posts = read_telegram_dump(SEED.read_text(encoding="utf-8"), SEED)
    out = [{"id": FIRST_ID - 1, "type": "service", "date": START.isoformat(), "actor": CHANNEL,
            "action": "pin_message", "message_id": FIRST_ID, "text": "", "text_entities": []}]
    when = START
    for number, post in enumerate(posts):
        # a Norwegian version an hour after its Russian original, other posts hours apart
        when += timedelta(hours=1 if "Kommentar" in post.text[:20] else 5, minutes=7 * number)
        parts = entities(post.text)
        message = {"id": FIRST_ID + 2 * number, "type": "message", "date": when.isoformat(),
                   "date_unixtime": str(int(when.timestamp())), "from": CHANNEL, "from_id": "channel1354545391"}
        if post.forwarded_from:
            message["forwarded_from"] = post.forwarded_from
        message["text"] = [p["text"] if p["type"] == "plain" else dict(p) for p in parts]
        message["text_entities"] = parts
        message["reactions"] = [{"type": "emoji", "count": 1 + number % 3, "emoji": "👍"}]
        out.append(message)
        if number == 5:  # a photo without a caption
            out.append({"id": FIRST_ID + 2 * number + 1, "type": "message", "date": when.isoformat(),
                        "from": CHANNEL, "from_id": "channel1354545391", "photo": "photos/photo_1.jpg",
                        "width": 1280, "height": 853, "text": "", "text_entities": []})
    return out


def result_json() -> str:
    export = {"name": CHANNEL, "type": "public_channel", "id": 1354545391, "messages": messages()}
    return json.dumps(export, ensure_ascii=False, indent=1) + "\n"


def _html_text(parts: list[dict]) -> str:
    pieces = []
    for part in parts:
        text = html.escape(part["text"]).replace("\n", "<br>")
        if part["type"] == "bold":
            pieces.append(f"<strong>{text}</strong>")
        elif part["type"] == "hashtag":
            pieces.append(f'<a href="" onclick="return ShowHashtag(&quot;{html.escape(part["text"][1:])}&quot;)">'
                          f"{text}</a>")
        elif part["type"] == "text_link":
            pieces.append(f'<a href="{part["href"]}">{text}</a>')
        else:
            pieces.append(text)
    return "".join(pieces)


def _html_message(message: dict, previous: dict | None) -> str:
    if message["type"] == "service":
        return (f'<div class="message service" id="message-1">\n<div class="body details">\n'
                f"{datetime.fromisoformat(message['date']).strftime('%d %B %Y')}\n</div>\n</div>\n")
    when = datetime.fromisoformat(message["date"])
    title = when.strftime("%d.%m.%Y %H:%M:%S") + " UTC+01:00"
    joined = previous is not None and previous["type"] == "message" and "forwarded_from" not in message
    lines = [f'<div class="message default clearfix{" joined" if joined else ""}" id="message{message["id"]}">']
    if not joined:
        lines.append('<div class="pull_left userpic_wrap">\n<div class="userpic userpic1" style="width: 42px; '
                     'height: 42px">\n<div class="initials" style="line-height: 42px">П</div>\n</div>\n</div>')
    lines.append('<div class="body">')
    lines.append(f'<div class="pull_right date details" title="{title}">\n{when.strftime("%H:%M")}\n</div>')
    if not joined:
        lines.append(f'<div class="from_name">\n{html.escape(CHANNEL)}\n</div>')
    if "photo" in message:
        lines.append('<div class="media_wrap clearfix">\n<a class="photo_wrap clearfix pull_left" '
                     'href="photos/photo_1.jpg">\n<img class="photo" src="photos/photo_1_thumb.jpg" '
                     'style="width: 260px; height: 173px"/>\n</a>\n</div>')
    text = _html_text(message["text_entities"])
    if "forwarded_from" in message:
        lines.append(f'<div class="forwarded body">\n<div class="from_name">\n{html.escape(message["forwarded_from"])}'
                     f'<span class="date details" title="{title}"> {when.strftime("%d.%m.%Y %H:%M:%S")}</span>\n</div>')
        lines.append(f'<div class="text">{text}</div>\n</div>')
    elif text:
        lines.append(f'<div class="text">{text}</div>')
    for reaction in message.get("reactions", []):
        lines.append(f'<span class="reactions">\n<span class="reaction">\n<span class="emoji">{reaction["emoji"]}'
                     f'</span>\n<span class="count">{reaction["count"]}</span>\n</span>\n</span>')
    lines.append("</div>\n</div>")
    return "\n".join(lines) + "\n"


def html_pages(per_page: int = 9) -> list[str]:
    all_messages = messages()
    pages = []
    for start in range(0, len(all_messages), per_page):
        chunk = all_messages[start:start + per_page]
        body = "".join(_html_message(m, chunk[i - 1] if i else None) for i, m in enumerate(chunk))
        pages.append(f"""<!DOCTYPE html>
<html>
<head>
<meta charset="utf-8"/>
<title>Exported Data</title>
<meta content="width=device-width, initial-scale=1.0" name="viewport"/>
<link href="css/style.css" rel="stylesheet"/>
<script src="js/script.js" type="text/javascript"></script>
</head>
<body onload="CheckLocation();">
<div class="page_wrap">
<div class="page_header">
<div class="content">
<div class="text bold">
{html.escape(CHANNEL)}
</div>
</div>
</div>
<div class="page_body chat_page">
<div class="history">
{body}</div>
</div>
</div>
</body>
</html>
""")
    return pages


def write(outdir: Path) -> list[Path]:
    (outdir / "html").mkdir(parents=True, exist_ok=True)
    written = [outdir / "result.json"]
    written[0].write_text(result_json(), encoding="utf-8")
    for number, page in enumerate(html_pages(), start=1):
        path = outdir / "html" / ("messages.html" if number == 1 else f"messages{number}.html")
        path.write_text(page, encoding="utf-8")
        written.append(path)
    return written


if __name__ == "__main__":
    for path in write(Path(sys.argv[1]) if len(sys.argv) > 1 else SEED.parent):
        print(path)
