"""axe-core (tests/hub_console/axe, vendored from npm) in the console's Selenium journeys: every
page and state a journey reaches is checked against WCAG 2.0/2.1 A and AA, and the journeys
walk the console by keyboard with the focused element always in view.

A report names the rule, its impact and the elements (CSS selectors) and never the page's text:
the pages show residents' (masked) personal data.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

AXE = Path(__file__).resolve().parent / "axe" / "axe.min.js"
WCAG_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]

_RUN = """
const done = arguments[arguments.length - 1];
axe.run(document, {runOnly: {type: 'tag', values: arguments[0]}, resultTypes: ['violations']})
  .then(r => done(r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
      nodes: v.nodes.map(n => ({target: n.target.join(' '), summary: n.failureSummary}))}))),
        e => done([{id: 'axe-error', impact: 'critical', help: String(e), nodes: []}]));
"""

# Where the keyboard's focus is, and whether it is in view: inside the window and, unless it
# is in the sticky top bar itself, not under that bar (WCAG 2.2 2.4.11, Focus Not Obscured).
_FOCUS = """
const el = document.activeElement;
const r = el.getBoundingClientRect();
const bar = document.querySelector('.topbar');
const top = bar && !el.closest('.topbar, .skip-link') && getComputedStyle(bar).position === 'sticky' ? bar.getBoundingClientRect().bottom : 0;
const bottom = Math.min(r.bottom, r.top + window.innerHeight - top);
const seen = r.width > 0 && r.height > 0 && r.top >= top - 1 && bottom <= window.innerHeight + 1
  && r.left >= -1 && r.right <= window.innerWidth + 1;
const name = el.id ? '#' + el.id : el.tagName.toLowerCase() + (el.name ? '[name=' + el.name + ']' : '')
  + (el.className && typeof el.className === 'string' ? '.' + el.className.trim().split(/\\s+/).join('.') : '');
return {name: name, text: (el.innerText || el.value || '').trim().slice(0, 20), seen: seen,
        rect: [Math.round(r.left), Math.round(r.top), Math.round(r.right), Math.round(r.bottom)], bar: top};
"""


def violations(driver: Any) -> list[dict[str, Any]]:
    """axe-core's WCAG 2.0/2.1 A and AA violations on the page the browser shows."""
    if not driver.execute_script("return !!window.axe"):
        driver.execute_script(AXE.read_text(encoding="utf-8"))
    driver.set_script_timeout(60)
    return driver.execute_async_script(_RUN, WCAG_TAGS)


def focus(driver: Any) -> dict[str, Any]:
    """The focused element: a name for messages (id or tag and class), its first characters of
    text, whether it is fully in view, and its rectangle."""
    return driver.execute_script(_FOCUS)


@dataclass
class Audit:
    """Collects axe-core's findings over a journey; :meth:`assert_clean` fails with all of them."""

    checked: list[str] = field(default_factory=list)
    found: list[str] = field(default_factory=list)

    def check(self, driver: Any, state: str) -> None:
        self.checked.append(state)
        for v in violations(driver):
            nodes = "; ".join(f"{n['target']} ({(n['summary'] or '').splitlines()[-1].strip()[:160]})"
                              for n in v["nodes"][:4])
            self.found.append(f"[{state}] {v['id']} ({v['impact']}): {v['help']} — {len(v['nodes'])} 处: {nodes}")

    def assert_clean(self) -> None:
        assert not self.found, f"axe-core found {len(self.found)} violations on {len(self.checked)} states:\n" + \
            "\n".join(self.found)
