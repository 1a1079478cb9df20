// A file field in the console's own words: the browser's button ("Choose File" in an English
// browser) is hidden; a 选择文件 button (its label) opens it and the chosen file's name is shown.
(function () {
  for (const input of document.querySelectorAll('input[type=file][data-file-name]')) {
    const shown = document.getElementById(input.getAttribute('data-file-name'));
    const button = document.querySelector('label.file-button[for="' + CSS.escape(input.id) + '"]');
    input.addEventListener('change', function () {
      const names = Array.from(input.files || []).map(function (f) { return f.name; });
      shown.textContent = names.length ? '已选择：' + names.join('、') : '尚未选择文件';
    });
    if (button) {
      input.addEventListener('focus', function () { button.style.outline = '3px solid #0b3d91'; });
      input.addEventListener('blur', function () { button.style.outline = ''; });
    }
  }
})();
