"""Small decorative icons for young pupils' policies, drawn for this project.

Each is a 48x48 inline SVG using ``currentColor``. They are always wrapped in an
``aria-hidden`` span by :mod:`portal.policies.rendering`: the rule's words carry the meaning.
"""
from __future__ import annotations

_OPEN = ('<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 48 48" width="48" height="48" '
         'focusable="false" fill="none" stroke="currentColor" stroke-width="3" '
         'stroke-linecap="round" stroke-linejoin="round">')
_CLOSE = "</svg>"


def _svg(body: str) -> str:
    return _OPEN + body + _CLOSE


ICONS: dict[str, str] = {
    # A heart: be kind.
    "heart": _svg('<path d="M24 41 C10 31 5 24 5 16 a9 9 0 0 1 19-4 a9 9 0 0 1 19 4 c0 8-5 15-19 25z" '
                  'fill="#e2506b" stroke="#7a1f33"/>'),
    # A speech bubble: tell a grown-up.
    "tell": _svg('<path d="M7 9 h34 a3 3 0 0 1 3 3 v18 a3 3 0 0 1-3 3 H20 l-9 8 v-8 H7 a3 3 0 0 1-3-3 V12 '
                 'a3 3 0 0 1 3-3z" fill="#cfe3ff" stroke="#0f47ad"/><path d="M13 18h22M13 25h14" stroke="#0f47ad"/>'),
    # A padlock: keep things private.
    "lock": _svg('<rect x="10" y="21" width="28" height="21" rx="3" fill="#ffd866" stroke="#6b5200"/>'
                 '<path d="M16 21 v-6 a8 8 0 0 1 16 0 v6" stroke="#6b5200"/><circle cx="24" cy="31" r="3" '
                 'fill="#6b5200" stroke="none"/>'),
    # A camera: ask before taking or sharing pictures.
    "camera": _svg('<rect x="5" y="14" width="38" height="26" rx="4" fill="#d9f2e3" stroke="#1d6b3f"/>'
                   '<path d="M17 14 l3-6 h8 l3 6" stroke="#1d6b3f"/><circle cx="24" cy="27" r="7" '
                   'stroke="#1d6b3f"/>'),
    # A stop sign: stop and do not answer.
    "stop": _svg('<path d="M17 4 h14 l13 13 v14 l-13 13 H17 L4 31 V17z" fill="#f3b0b0" stroke="#8c1c1c"/>'
                 '<path d="M15 24 h18" stroke="#8c1c1c" stroke-width="5"/>'),
    # A star: do your best.
    "star": _svg('<path d="M24 4 l6 13 14 1-11 9 4 14-13-8-13 8 4-14-11-9 14-1z" fill="#ffe08a" '
                 'stroke="#7a5b00"/>'),
    # A grown-up and a child holding hands: only talk online to people you know.
    "people": _svg('<circle cx="15" cy="10" r="5" stroke="#3d2a7a"/><path d="M15 15 v16 M15 31 l-5 11 M15 31 '
                   'l5 11 M8 22 h14" stroke="#3d2a7a"/><circle cx="34" cy="20" r="4" stroke="#3d2a7a"/>'
                   '<path d="M34 24 v10 M34 34 l-4 8 M34 34 l4 8 M22 22 l12 5 l6-3" stroke="#3d2a7a"/>'),
    # A screen with a clock: time online.
    "screen": _svg('<rect x="5" y="8" width="38" height="26" rx="3" fill="#e6e6f5" stroke="#2b2b52"/>'
                   '<path d="M17 42 h14 M24 34 v8" stroke="#2b2b52"/><circle cx="24" cy="21" r="7" '
                   'stroke="#2b2b52"/><path d="M24 17 v4 l3 2" stroke="#2b2b52"/>'),
}
