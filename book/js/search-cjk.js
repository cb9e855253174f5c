// 让本书的搜索框能找到中文词语。
//
// mdBook 的搜索索引按空格切词，再去掉词首词尾所有“非英文字母数字”的字符，
// 所以“黏包”这样的中文词根本进不了索引，直接搜索什么也找不到。
// 这里包装一下搜索函数：查询里含有非 ASCII 字符（比如中文）时，
// 再到每一节的标题、路径和正文里直接查找这些词，把找到的小节补进结果里。
// 多个词之间用空格隔开，每个词都要出现（和书的 use-boolean-and 设置一致）。
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
})();
