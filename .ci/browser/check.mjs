// 在真实的无头 Chromium 里打开本书的每一页，检查读者看到的东西。
//
// 用法（在仓库根目录，先 mdbook build）：
//   node .ci/browser/check.mjs [书的输出目录，默认 target/book]
// 环境变量：CHROMIUM（浏览器路径，默认 /usr/bin/chromium），SCREENSHOT_DIR（默认 target/screenshots）
//
// 每一页都检查：标题和目录里的一致；图片（包括 SVG）都加载成功；每个代码块和运行记录都非空、
// 已高亮、没有残留的 {{#include}}；没有控制台错误；没有任何请求离开 127.0.0.1（本书可以离线阅读）；
// 手机宽度下页面不横向溢出。在桌面和手机宽度下都检查：运行记录自动换行、不横向溢出，Rust 代码
// 保持原样不换行；表格里没有哪个单元格被挤得不到 3 个字宽；提示框的标题是中文。手机上每张图都是
// 指向原图的链接，点一下就打开它。此外检查：站内链接和 #锚点都能解析；一条已知的长错误行在手机上
// 连行尾也看得见；搜索“黏包”能找到并跳到那一节，搜索框和结果的文字是中文，从带着 ?search=黏包 的
// 网址打开页面时结果和输入时一样多（不论搜索索引先到还是脚本先到）；打印页按顺序包含每一章和它的图。
// 每章首屏在桌面和手机宽度下各截一张图，深色主题下再截一张。

import { chromium } from 'playwright-core';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';

const bookDir = path.resolve(process.argv[2] ?? 'target/book');
const shotDir = path.resolve(process.env.SCREENSHOT_DIR ?? 'target/screenshots');
const summaryFile = path.resolve('book/SUMMARY.md');
const problems = [];
const problem = (where, what) => problems.push(`${where}：${what}`);

// ---- 目录：SUMMARY.md 里的每一章（按顺序），标题和页面文件 ----
const chapters = [...fs.readFileSync(summaryFile, 'utf8').matchAll(/\[([^\]]+)\]\(([^)]+)\.md\)/g)]
  .map(([, title, file]) => ({ title, html: `${file}.html` }));

// ---- 一个只监听 127.0.0.1 的静态文件服务器 ----
const types = {
  '.html': 'text/html; charset=utf-8', '.js': 'text/javascript', '.css': 'text/css',
  '.svg': 'image/svg+xml', '.png': 'image/png', '.json': 'application/json',
  '.woff': 'font/woff', '.woff2': 'font/woff2', '.ttf': 'font/ttf', '.txt': 'text/plain',
};
const server = http.createServer((req, res) => {
  let file = decodeURIComponent(new URL(req.url, 'http://127.0.0.1').pathname);
  if (file.endsWith('/')) file += 'index.html';
  file = path.join(bookDir, file);
  if (!file.startsWith(bookDir) || !fs.existsSync(file) || fs.statSync(file).isDirectory()) {
    res.writeHead(404).end('not found');
    return;
  }
  res.writeHead(200, { 'content-type': types[path.extname(file)] ?? 'application/octet-stream' });
  fs.createReadStream(file).pipe(res);
});
await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
const base = `http://127.0.0.1:${server.address().port}/`;

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update',
    '--disable-sync', '--disable-quic', '--no-first-run'],
});
const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
const phoneWidth = 375; // 常见手机里较窄的一种
const phoneContext = await browser.newContext({ viewport: { width: phoneWidth, height: 667 }, isMobile: true, hasTouch: true });
// 离开本机的请求一律拦下并记为问题：书必须离线可读
for (const ctx of [context, phoneContext]) {
  await ctx.route('**/*', (route) => {
    const url = new URL(route.request().url());
    if (url.protocol === 'data:' || url.protocol === 'blob:' || url.hostname === '127.0.0.1') {
      return route.continue();
    }
    problem('网络', `有请求离开了本机：${url.href}`);
    return route.abort();
  });
}

/** 打开一页，收集控制台错误和失败的请求。 */
async function open(file, { context: ctx = context } = {}) {
  const page = await ctx.newPage();
  page.on('console', (msg) => { if (msg.type() === 'error') problem(file, `控制台错误：${msg.text()}`); });
  page.on('pageerror', (err) => problem(file, `脚本错误：${err.message}`));
  page.on('response', (res) => { if (res.status() >= 400) problem(file, `请求失败 ${res.status()}：${res.url()}`); });
  await page.goto(base + file, { waitUntil: 'load' });
  return page;
}

/** 运行记录（text、console）要自动换行，不横向溢出；Rust 代码保持原样，不换行。 */
async function checkCodeLayout(page, file, where) {
  const blocks = await page.$$eval('main pre > code', (codes) => codes.map((code) => ({
    language: (/language-(\w+)/.exec(code.className) ?? [])[1] ?? '',
    overflow: code.scrollWidth - code.clientWidth,
    whiteSpace: getComputedStyle(code).whiteSpace,
  })));
  blocks.forEach((block, i) => {
    if (['text', 'console'].includes(block.language) && block.overflow > 1) {
      problem(file, `${where}第 ${i + 1} 个代码块是运行记录（${block.language}），没有换行，横向溢出 ${block.overflow} 像素`);
    }
    if (block.language === 'rust' && block.whiteSpace !== 'pre') {
      problem(file, `${where}第 ${i + 1} 个代码块是 Rust 代码，却不再按原样排版（white-space: ${block.whiteSpace}）`);
    }
  });
}

/** 表格里字数超过 3 个的单元格，不能被挤得不到 3 个字宽、折成好几行。 */
async function checkTables(page, file, where) {
  const squeezed = await page.$$eval('main td, main th', (cells) => cells.flatMap((cell) => {
    const style = getComputedStyle(cell);
    const fontSize = parseFloat(style.fontSize);
    const width = cell.clientWidth - parseFloat(style.paddingLeft) - parseFloat(style.paddingRight);
    const text = cell.textContent.trim();
    if ([...text].length <= 3 || width >= 2.9 * fontSize) return [];
    const range = document.createRange();
    range.selectNodeContents(cell);
    const lines = new Set([...range.getClientRects()].map((rect) => Math.round(rect.bottom))).size;
    if (lines < 2) return [];
    return [`“${text.slice(0, 12)}”只有 ${Math.round(width)} 像素宽（约 ${(width / fontSize).toFixed(1)} 个字），折成了 ${lines} 行`];
  }));
  for (const cell of squeezed) problem(file, `${where}表格的单元格${cell}`);
}

const idsByPage = new Map(); // 页面文件 → 这一页上所有的 id
let admonitions = 0; // 全书的提示框个数
const links = []; // { from, href }

for (const chapter of chapters) {
  const file = chapter.html;
  if (!fs.existsSync(path.join(bookDir, file))) {
    problem(file, '目录里有这一章，但书里没有生成这个页面');
    continue;
  }
  const page = await open(file);

  const heading = (await page.locator('main h1').first().textContent({ timeout: 5000 }).catch(() => null))?.trim();
  if (!heading) problem(file, '页面没有一级标题');
  else if (heading !== chapter.title) problem(file, `标题“${heading}”和目录里的“${chapter.title}”不一致`);

  const images = await page.$$eval('main img', (imgs) =>
    imgs.map((img) => ({ src: img.getAttribute('src'), ok: img.complete && img.naturalWidth > 0 })));
  for (const img of images) if (!img.ok) problem(file, `图片没有加载出来：${img.src}`);

  const blocks = await page.$$eval('main pre > code', (codes) => codes.map((code) => ({
    classes: code.className,
    text: code.textContent,
    tokens: code.querySelectorAll('[class^="hljs-"]').length,
  })));
  blocks.forEach((block, i) => {
    const where = `第 ${i + 1} 个代码块（${block.classes}）`;
    if (!block.text.trim()) problem(file, `${where}是空的`);
    if (block.text.includes('{{#include')) problem(file, `${where}里有没展开的 {{#include}}`);
    if (!block.classes.includes('hljs')) problem(file, `${where}没有经过语法高亮`);
    if (block.classes.includes('language-rust') && block.tokens === 0) problem(file, `${where}是 Rust 代码，却没有任何高亮的记号`);
  });

  await checkCodeLayout(page, file, '桌面宽度下');
  await checkTables(page, file, '桌面宽度下');

  // 提示框（> [!NOTE] 等）的标题要显示成中文
  const titles = await page.locator('main .blockquote-tag-title').evaluateAll((ps) =>
    ps.map((p) => ({ text: p.textContent.trim(), visible: p.getClientRects().length > 0 })));
  admonitions += titles.length;
  for (const title of titles) {
    if (!title.visible) problem(file, `提示框的标题“${title.text}”没有显示出来`);
    if (!/^[\u4e00-\u9fff]+$/.test(title.text)) problem(file, `提示框的标题“${title.text}”不是中文`);
  }

  idsByPage.set(file, new Set(await page.$$eval('[id]', (els) => els.map((el) => el.id))));
  for (const href of await page.$$eval('main a[href]', (as) => as.map((a) => a.getAttribute('href')))) {
    links.push({ from: file, href });
  }

  fs.mkdirSync(shotDir, { recursive: true });
  const name = file.replace(/\.html$/, '');
  await page.screenshot({ path: path.join(shotDir, `${name}-desktop.png`) });
  await page.close();

  // 手机：单独的浏览器上下文，免得沿用桌面版记住的侧边栏状态
  const phone = await open(file, { context: phoneContext });
  const overflow = await phone.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
  if (overflow > 1) problem(file, `手机宽度（${phoneWidth} 像素）下页面横向溢出 ${overflow} 像素`);
  await checkCodeLayout(phone, file, '手机宽度下');
  await checkTables(phone, file, '手机宽度下');

  await phone.screenshot({ path: path.join(shotDir, `${name}-phone.png`) });

  // 手机上图里的字太小：每张图都要是指向原图的链接，点一下（触摸）就单独打开那个 SVG 文件
  const diagrams = await phone.$$eval('main img[src$=".svg"]', (imgs) => imgs
    .filter((img) => !img.closest('.img-wrapper')) // mdBook“点击放大”用的那一份，平时隐藏
    .map((img) => ({ src: img.src, href: img.closest('a[href]')?.href ?? null })));
  for (const [i, diagram] of diagrams.entries()) {
    const name = decodeURIComponent(new URL(diagram.src).pathname);
    if (diagram.href !== diagram.src) {
      problem(file, `手机上图 ${name} ${diagram.href ? `链接到了 ${diagram.href}，而不是原图` : '不是链接，点了打不开原图'}`);
      continue;
    }
    const diagramLocator = phone.locator('main :not(.img-wrapper) > img[src$=".svg"]').nth(i);
    await diagramLocator.scrollIntoViewIfNeeded();
    const [opened] = await Promise.all([
      phone.waitForURL(diagram.src, { timeout: 5000 }).then(() => true, () => false),
      diagramLocator.tap(),
    ]);
    if (!opened) {
      problem(file, `手机上点了图 ${name}，没有打开原图（页面是 ${phone.url()}）`);
    } else {
      const type = await phone.evaluate(() => document.contentType);
      if (type !== 'image/svg+xml') problem(file, `手机上点了图 ${name}，打开的不是 SVG 图片（${type}）`);
    }
    if (phone.url() !== base + file) await phone.goBack({ waitUntil: 'load' });
  }
  await phone.close();
}

// ---- 深色主题：带图的页面在 coal 主题下也要看得清（截图供人查看） ----
for (const chapter of chapters) {
  const file = chapter.html;
  if (!fs.existsSync(path.join(bookDir, file))) continue;
  if (!fs.readFileSync(path.join(bookDir, file), 'utf8').includes('<img')) continue;
  const page = await context.newPage();
  await page.addInitScript(() => localStorage.setItem('mdbook-theme', 'coal'));
  await page.goto(base + file, { waitUntil: 'load' });
  await page.locator('main img').first().scrollIntoViewIfNeeded();
  await page.screenshot({ path: path.join(shotDir, `${file.replace(/\.html$/, '')}-dark.png`) });
  await page.close();
}

// ---- 站内链接和 #锚点 ----
async function idsOf(file) {
  if (!idsByPage.has(file)) {
    const page = await open(file);
    idsByPage.set(file, new Set(await page.$$eval('[id]', (els) => els.map((el) => el.id))));
    await page.close();
  }
  return idsByPage.get(file);
}
for (const { from, href } of links) {
  const url = new URL(href, base + from);
  if (url.origin !== new URL(base).origin) continue; // 外部链接：本书只检查站内的
  const target = decodeURIComponent(url.pathname.slice(1)) || 'index.html';
  if (!fs.existsSync(path.join(bookDir, target))) {
    problem(from, `链接指向不存在的页面：${href}`);
    continue;
  }
  const anchor = decodeURIComponent(url.hash.slice(1));
  if (anchor && target.endsWith('.html') && !(await idsOf(target)).has(anchor)) {
    problem(from, `链接的锚点不存在：${href}`);
  }
}

if (admonitions === 0) problem('提示框', '全书一个提示框（> [!NOTE] 等）也没有找到，检查不到它们的标题');

// ---- 一条已知的长错误行：手机上行尾最有用的那部分（要运行的命令）也在运行记录的框里 ----
{
  const file = 'ch02-2-tcp-client.html';
  const tail = '请先在另一个终端运行：cargo run --bin lab-tcp-server -- --addr 127.0.0.1:[PORT]';
  const page = await open(file, { context: phoneContext });
  const where = await page.evaluate((tail) => {
    for (const code of document.querySelectorAll('main pre > code')) {
      let offset = code.textContent.indexOf(tail);
      if (offset < 0) continue;
      offset += tail.length - 1; // 这一行的最后一个字符
      const walker = document.createTreeWalker(code, NodeFilter.SHOW_TEXT);
      let node = walker.nextNode();
      while (node && offset >= node.length) {
        offset -= node.length;
        node = walker.nextNode();
      }
      const range = document.createRange();
      range.setStart(node, offset);
      range.setEnd(node, offset + 1);
      const char = range.getBoundingClientRect();
      const box = code.getBoundingClientRect();
      return { right: Math.round(char.right), boxRight: Math.round(box.right) };
    }
    return null;
  }, tail);
  if (!where) problem(file, `运行记录里找不到这一行的结尾：${tail}`);
  else if (where.right > where.boxRight) {
    problem(file, `手机宽度下，运行记录里“${tail}”的行尾在框外 ${where.right - where.boxRight} 像素处，要横向滚动才看得见`);
  }
  await page.close();
}

// ---- 搜索“黏包”，点第一个结果，应当跳到黏包那一节 ----
let typedResults = 0; // 在搜索框里输入“黏包”时的结果数
{
  const page = await open(chapters[0].html);
  const placeholder = await page.getAttribute('#mdbook-searchbar', 'placeholder');
  if (!/[\u4e00-\u9fff]/.test(placeholder ?? '')) problem('搜索', `搜索框的提示文字“${placeholder}”不是中文`);
  await page.click('#mdbook-search-toggle');
  await page.fill('#mdbook-searchbar', '黏包');
  await page.press('#mdbook-searchbar', 'End'); // 搜索在 keyup 时触发，fill 本身不产生按键
  const results = page.locator('#mdbook-searchresults a');
  const found = await results.first().waitFor({ timeout: 5000 }).then(() => true, () => false);
  if (!found) {
    problem('搜索', '搜索“黏包”没有任何结果');
  } else {
    typedResults = await results.count();
    const header = (await page.textContent('#mdbook-searchresults-header')).trim();
    if (!header.includes(`找到 ${typedResults} 个结果`)) problem('搜索', `结果上方的说明“${header}”不是中文，或者没说找到几个`);
    const hrefs = await results.evaluateAll((as) => as.map((a) => a.getAttribute('href')));
    const hit = hrefs.findIndex((href) => href.startsWith('ch02-3-sticky.html'));
    if (hit < 0) {
      problem('搜索', `搜索“黏包”的结果里没有黏包那一节：${hrefs.join('，')}`);
    } else {
      await Promise.all([page.waitForURL(/ch02-3-sticky\.html/), results.nth(hit).click()]);
      const heading = (await page.locator('main h1').first().textContent()).trim();
      if (heading !== '黏包') problem('搜索', `点击搜索结果后来到了“${heading}”，而不是“黏包”`);
    }
  }
  await page.close();
}

// ---- 搜不到时的说明也是中文 ----
{
  const page = await open(chapters[0].html);
  await page.click('#mdbook-search-toggle');
  await page.fill('#mdbook-searchbar', 'zzqxj');
  await page.press('#mdbook-searchbar', 'End');
  const header = page.locator('#mdbook-searchresults-header');
  await header.filter({ hasText: /\S/ }).waitFor({ timeout: 5000 }).catch(() => {});
  const text = ((await header.textContent()) ?? '').trim();
  if (!text.includes('没有找到')) problem('搜索', `搜不到东西时的说明“${text}”不是中文`);
  await page.close();
}

// ---- 从网址 ?search=黏包 打开页面（刷新、后退、分享的链接都是这样）：结果和输入时一样多 ----
// mdBook 一打开页面就异步加载搜索索引，它和本书的脚本谁先到不一定。三种情况都试：
// 照常加载；故意让本书的脚本晚到（索引先到，mdBook 先搜了一次）；故意让索引晚到。
for (const [label, slow] of [['照常加载', null], ['本书的脚本晚到', /search-cjk-[0-9a-f]+\.js$/], ['搜索索引晚到', /searchindex-[0-9a-f]+\.js$/]]) {
  const page = await context.newPage();
  page.on('pageerror', (err) => problem(`?search=黏包（${label}）`, `脚本错误：${err.message}`));
  if (slow) {
    await page.route(slow, async (route) => {
      await new Promise((resolve) => setTimeout(resolve, 1500));
      await route.continue();
    });
  }
  await page.goto(`${base}index.html?search=${encodeURIComponent('黏包')}`, { waitUntil: 'load' });
  const header = page.locator('#mdbook-searchresults-header');
  await header.filter({ hasText: /\S/ }).waitFor({ timeout: 5000 }).catch(() => {});
  const text = ((await header.textContent()) ?? '').trim();
  const count = await page.locator('#mdbook-searchresults a').count();
  const where = `打开 index.html?search=黏包（${label}）`;
  if (count === 0) problem(where, `没有任何结果（说明：“${text}”），在搜索框里输入“黏包”时有 ${typedResults} 个`);
  else if (count !== typedResults) problem(where, `有 ${count} 个结果，在搜索框里输入“黏包”时有 ${typedResults} 个`);
  if (!text.includes(`找到 ${count} 个结果`)) problem(where, `结果上方的说明“${text}”不对`);
  const inUrl = new URL(page.url()).searchParams.get('search');
  if (inUrl !== '黏包') problem(where, `网址里的搜索词变成了“${inUrl}”`);
  await page.close();
}

// ---- 打印页：按目录顺序包含每一章，每张图都在 ----
{
  const page = await open('print.html');
  const headings = (await page.$$eval('main h1', (hs) => hs.map((h) => h.textContent.trim())));
  let last = -1;
  for (const chapter of chapters) {
    const at = headings.indexOf(chapter.title, last + 1);
    if (at < 0) problem('print.html', `打印页里缺少“${chapter.title}”，或者顺序不对`);
    else last = at;
  }
  const images = await page.$$eval('main img', (imgs) => imgs.map((img) => img.complete && img.naturalWidth > 0));
  const expected = chapters
    .filter((c) => fs.existsSync(path.join(bookDir, c.html)))
    .map((c) => (fs.readFileSync(path.join(bookDir, c.html), 'utf8').match(/<img /g) ?? []).length)
    .reduce((a, b) => a + b, 0);
  if (images.length !== expected) problem('print.html', `打印页有 ${images.length} 张图，各章合计 ${expected} 张`);
  if (images.some((ok) => !ok)) problem('print.html', '打印页里有图片没有加载出来');
  await page.close();
}

await browser.close();
server.close();

console.log(`浏览器检查：${chapters.length} 页，${links.length} 个站内链接，截图在 ${path.relative(process.cwd(), shotDir)}/`);
if (problems.length) {
  console.log(`发现 ${problems.length} 个问题：`);
  for (const p of problems) console.log(`  - ${p}`);
  process.exit(1);
}
console.log('全部通过');
