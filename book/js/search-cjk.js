// 让本书的搜索框能找到中文词语。
//
// mdBook 的搜索索引按空格切词，再去掉词首词尾所有“非英文字母数字”的字符，
// 所以“黏包”这样的中文词根本进不了索引，直接搜索什么也找不到。
// 这里包装一下搜索函数：查询里含有非 ASCII 字符（比如中文）时，
// 再到每一节的标题、路径和正文里直接查找这些词，把找到的小节补进结果里。
// 多个词之间用空格隔开，每个词都要出现（和书的 use-boolean-and 设置一致）。
// 从带着 ?search= 的网址打开页面时，mdBook 可能在包装之前就搜过了，见文件末尾。
(function () {
  'use strict';
  if (typeof elasticlunr === 'undefined') {
    return;
  }
  const englishSearch = elasticlunr.Index.prototype.search;
  const hasNonAscii = /[^\x00-\x7f]/;

  // 一节内容的得分：标题里出现最重要，其次是所在章节的路径，再次是正文里出现的次数
  function score(doc, terms) {
    const title = (doc.title || '').toLowerCase();
    const breadcrumbs = (doc.breadcrumbs || '').toLowerCase();
    const body = (doc.body || '').toLowerCase();
    let total = 0;
    for (const term of terms) {
      const inTitle = title.includes(term);
      const inBreadcrumbs = breadcrumbs.includes(term);
      const inBody = body.split(term).length - 1;
      if (!inTitle && !inBreadcrumbs && inBody === 0) {
        return 0;
      }
      total += (inTitle ? 10 : 0) + (inBreadcrumbs ? 3 : 0) + Math.min(inBody, 5);
    }
    return total;
  }

  elasticlunr.Index.prototype.search = function (query, options) {
    const results = englishSearch.call(this, query, options);
    if (typeof query !== 'string' || !hasNonAscii.test(query)) {
      return results;
    }
    const terms = query.toLowerCase().split(/\s+/).filter(Boolean);
    const found = new Set(results.map((result) => result.ref));
    const docs = this.documentStore.docs;
    for (const ref of Object.keys(docs)) {
      const points = found.has(ref) ? 0 : score(docs[ref], terms);
      if (points > 0) {
        results.push({ ref: ref, score: points, doc: docs[ref] });
      }
    }
    return results.sort((a, b) => b.score - a.score);
  };

  // 网址里带着 ?search=黏包 时（读者搜索时 mdBook 自己把词写进网址，刷新、后退和分享出去的链接
  // 都会带着它），mdBook 在页面一加载就开始异步加载搜索索引，索引一到就搜索。索引可能比这个脚本
  // 先到：那时搜索函数还没包装好，中文词什么也找不到，页面上显示“没有结果”。
  // 遇到这种情况（结果已经显示出来了）就重新搜索一次。mdBook 不会重复搜索和上一次相同的词，
  // 所以先让它搜一个别的词（原来的词再加上一个只有零宽空格的词，什么也搜不到），再换回原来的词。
  // 两次都在这一段代码里同步完成，读者看不到中间那次，网址最后也和原来一样。
  const searchbar = document.getElementById('mdbook-searchbar');
  const header = document.getElementById('mdbook-searchresults-header');
  if (searchbar && header && header.textContent !== '' && searchbar.value.trim() !== '') {
    const term = searchbar.value;
    for (const value of [term.trim() + ' \u200b', term]) {
      searchbar.value = value;
      searchbar.dispatchEvent(new KeyboardEvent('keyup'));
    }
  }
})();
