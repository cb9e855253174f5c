// 点一下图，在单独的页面里打开原图。
//
// 书里的图都是 SVG，原始宽度七八百像素。手机屏幕只有三四百像素宽，图缩小以后字小得看不清；
// mdBook 自带的“点击放大”也只能放大到屏幕那么宽。这里给每张 SVG 图套上一个指向图片文件
// 本身的链接：点一下就单独打开这张图，按原始大小显示，可以自由放大、拖动，返回键回到书里。
// 图片文件就在书的目录里，离线也能打开。
(function () {
  'use strict';
  const images = document.querySelectorAll('main img[src$=".svg"]');
  for (const img of images) {
    // mdBook 为“点击放大”另放了一份同样的图（.img-wrapper 里，平时隐藏），它不需要链接
    if (img.closest('a, .img-wrapper')) {
      continue;
    }
    const link = document.createElement('a');
    link.className = 'diagram-link';
    link.href = img.getAttribute('src');
    link.title = '在单独的页面里打开原图，可以放大查看';
    img.replaceWith(link);
    link.appendChild(img);
    // 用键盘时，Tab 停在这个链接上就够了；mdBook 那个看不见的“放大”复选框不必再停一次
    const zoom = link.parentElement.querySelector('input.checkbox-img');
    if (zoom) {
      zoom.tabIndex = -1;
    }
  }
})();
