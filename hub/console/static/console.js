// The console's behaviour without inline script (its Content-Security-Policy allows none):
// a form with data-confirm asks before it is sent; a checkbox with data-check-all ticks
// every checkbox of that name.
document.addEventListener('submit', function (event) {
  const message = event.target.getAttribute && event.target.getAttribute('data-confirm');
  if (message && !window.confirm(message)) event.preventDefault();
});
document.addEventListener('click', function (event) {
  const name = event.target.getAttribute && event.target.getAttribute('data-check-all');
  if (!name) return;
  for (const box of document.querySelectorAll('input[type=checkbox][name="' + CSS.escape(name) + '"]')) {
    box.checked = event.target.checked;
  }
});
// Accessibility: on a narrow window the menu is folded behind 菜单 (a link to #console-menu,
// which opens it without script too; with script it is a button that opens and closes it);
// an error summary (or an error message) takes focus when the page opens, so a screen reader
// reads it and Tab continues from it; a table wider than its box becomes focusable so that it
// can be scrolled with the arrow keys.
(function () {
  const toggle = document.querySelector('.menu-toggle');
  if (!toggle) return;
  toggle.setAttribute('role', 'button');
  toggle.setAttribute('aria-expanded', 'false');
  function flip(event) {
    event.preventDefault();
    const open = toggle.getAttribute('aria-expanded') !== 'true';
    toggle.setAttribute('aria-expanded', open ? 'true' : 'false');
    document.querySelector('.layout').classList.toggle('menu-open', open);
  }
  toggle.addEventListener('click', flip);
  toggle.addEventListener('keydown', function (event) { if (event.key === ' ') flip(event); });
})();
(function () {
  const summary = document.querySelector('[data-focus-first]');
  if (summary) summary.focus();
  function scrollables() {
    for (const box of document.querySelectorAll('table.data, .scroll-x')) {
      if (box.scrollWidth > box.clientWidth + 1) box.setAttribute('tabindex', '0');
      else if (box.getAttribute('tabindex') === '0') box.removeAttribute('tabindex');
    }
  }
  scrollables();
  window.addEventListener('resize', scrollables);
})();
// A link of an error summary puts the cursor in the field it names (a plain #fragment only scrolls).
document.addEventListener('click', function (event) {
  const link = event.target.closest && event.target.closest('.error-summary a[href^="#"]');
  if (!link) return;
  const field = document.getElementById(link.getAttribute('href').slice(1));
  if (!field) return;
  event.preventDefault();
  field.focus();
});
