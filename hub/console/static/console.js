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
