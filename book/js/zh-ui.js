// 把 mdBook 界面上的英文换成中文。
//
// mdBook 0.5 把这些文字写死成了英文，book.toml 里也没有设置能改：提示框（> [!NOTE] 等）的标题、
// 搜索框和搜索结果的文字、快捷键帮助、工具栏按钮的提示。这个脚本在页面加载时把它们换成中文。
// 搜索结果是 mdBook 的搜索脚本后来才写进页面的，所以用 MutationObserver 盯着，随写随换。
(function () {
  'use strict';

  // ---- 提示框的标题：按 mdBook 给的类名（blockquote-tag-note 等）换掉文字，图标保留 ----
  const admonitionTitles = {
    note: '说明',
    tip: '提示',
    important: '重要',
    warning: '警告',
    caution: '当心',
  };
  for (const title of document.querySelectorAll('.blockquote-tag > .blockquote-tag-title')) {
    const kind = Array.from(title.parentElement.classList)
      .map((name) => name.replace(/^blockquote-tag-/, ''))
      .find((name) => Object.prototype.hasOwnProperty.call(admonitionTitles, name));
    if (!kind) {
      continue;
    }
    for (const node of Array.from(title.childNodes)) {
      if (node.nodeType === Node.TEXT_NODE && node.textContent.trim() !== '') {
        node.textContent = admonitionTitles[kind];
      }
    }
  }

  // ---- 工具栏、翻页按钮和搜索按钮的提示文字（鼠标悬停时显示，读屏软件也会读） ----
  const labels = {
    'Toggle Table of Contents': '显示或隐藏目录',
    'Table of contents': '目录',
    'Change theme': '换一种配色',
    'Themes': '配色',
    'Search (`/`)': '搜索（快捷键 / 或 S）',
    'Toggle Searchbar': '显示或隐藏搜索框',
    'Print this book': '打印整本书',
    'Previous chapter': '上一页',
    'Next chapter': '下一页',
    'Page navigation': '翻页',
  };
  for (const attribute of ['title', 'aria-label']) {
    for (const element of document.querySelectorAll('[' + attribute + ']')) {
      const text = element.getAttribute(attribute);
      if (Object.prototype.hasOwnProperty.call(labels, text)) {
        element.setAttribute(attribute, labels[text]);
      }
    }
  }

  // ---- 快捷键帮助（按 ? 弹出） ----
  const helpTitle = document.querySelector('#mdbook-help-popup .mdbook-help-title');
  if (helpTitle) {
    helpTitle.textContent = '键盘快捷键';
  }
  const helpLines = {
    '←→': '按 <kbd>←</kbd> 或 <kbd>→</kbd> 翻到上一页或下一页',
    'S/': '按 <kbd>S</kbd> 或 <kbd>/</kbd> 在书里搜索',
    '?': '按 <kbd>?</kbd> 显示这份帮助',
    'Esc': '按 <kbd>Esc</kbd> 关闭这份帮助',
  };
  for (const line of document.querySelectorAll('#mdbook-help-popup p')) {
    const keys = Array.from(line.querySelectorAll('kbd'), (kbd) => kbd.textContent).join('');
    if (Object.prototype.hasOwnProperty.call(helpLines, keys)) {
      line.innerHTML = helpLines[keys];
    }
  }

  // ---- 搜索框和搜索结果 ----
  const searchbar = document.getElementById('mdbook-searchbar');
  if (searchbar) {
    searchbar.placeholder = '搜索本书……';
  }
  const header = document.getElementById('mdbook-searchresults-header');
  const results = document.getElementById('mdbook-searchresults');
  if (!header || !results) {
    return;
  }

  // mdBook 写的是“20 search results for '黏包':”或“No search results for '黏包'.”
  function translateHeader() {
    const text = header.textContent;
    let match = /^(\d+) search results? for '([\s\S]*)':$/.exec(text);
    if (match) {
      header.textContent = '搜索“' + match[2] + '”，找到 ' + match[1] + ' 个结果：';
      return;
    }
    match = /^No search results for '([\s\S]*)'\.$/.exec(text);
    if (match) {
      header.textContent = '搜索“' + match[1] + '”，没有找到结果。';
    }
  }

  function translateResults() {
    for (const teaser of results.querySelectorAll('.teaser[aria-label="Search Result Teaser"]')) {
      teaser.setAttribute('aria-label', '搜索结果摘要');
    }
  }

  // 换成中文以后观察者还会再被叫一次，那时文字已经不匹配上面的英文，不会再改
  new MutationObserver(translateHeader).observe(header, { childList: true, characterData: true, subtree: true });
  new MutationObserver(translateResults).observe(results, { childList: true });
  translateHeader();
  translateResults();
})();
