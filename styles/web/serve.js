/* Only for `python build.py serve` (not shipped with the site; the server adds it to each page's
   head): show the rebuilt page after a save; show a failed build's messages over the page, which
   stays usable beneath them.

   After an edit of the text ("update") the page is patched, not reloaded: the new page is fetched
   and compared with the page as it was first served (the body is copied before the site's own
   scripts change it), and only the nodes that differ are put in, so the browser lays out again
   only what changed, and the styles, fonts, the place read and open notes stay. After an edit of
   the styles ("reload"), or where the new page's head differs, the page is reloaded. */
(function () {
  "use strict";
  var overlay = null;
  function hide() { if (overlay) { overlay.remove(); overlay = null; } }
  function show(messages) {
    hide();
    overlay = document.createElement("section");
    overlay.className = "serve-overlay";
    overlay.setAttribute("role", "alert");
    overlay.setAttribute("aria-label", "Build failed");
    overlay.style.cssText = "position:fixed;left:0;right:0;bottom:0;max-height:45vh;overflow:auto;z-index:100;" +
      "background:#3b0d0c;color:#fff;font:14px/1.45 monospace;padding:12px 16px;border-top:4px solid #ff6b5b;";
    var head = document.createElement("p");
    head.style.cssText = "margin:0 0 8px;font-weight:bold;";
    head.textContent = "The build failed; this is the last good page. Fix the source and save to rebuild.";
    var close = document.createElement("button");
    close.type = "button";
    close.textContent = "Hide";
    close.style.cssText = "float:right;font:inherit;";
    close.addEventListener("click", hide);
    var list = document.createElement("pre");
    list.style.cssText = "margin:0;white-space:pre-wrap;";
    list.textContent = messages.join("\n");
    overlay.append(close, head, list);
    document.body.appendChild(overlay);
  }
  function assets(doc) {
    return Array.prototype.map.call(doc.head.querySelectorAll("link[href], script[src]"), function (element) {
      return element.outerHTML;
    }).join("\n");
  }
  // The body as served: the page as live differs from it only where scripts set attributes.
  var served = null;
  document.addEventListener("readystatechange", function () {  // "interactive": parsed, before deferred scripts
    if (!served && document.readyState !== "loading") served = document.body.cloneNode(true);
  });

  function sameAttributes(a, b) {
    if (a.attributes.length !== b.attributes.length) return false;
    for (var i = 0; i < a.attributes.length; i++) {
      if (b.getAttribute(a.attributes[i].name) !== a.attributes[i].value) return false;
    }
    return true;
  }
  function similar(a, b) {
    return a.nodeType === b.nodeType && (a.nodeType === Node.TEXT_NODE ||
      (a.nodeType === Node.ELEMENT_NODE && a.nodeName === b.nodeName && sameAttributes(a, b)));
  }
  // Make `live` show `fresh`. `old` is what was served for `live`: the two have the same nodes.
  function patch(live, old, fresh) {
    if (old.nodeType === Node.TEXT_NODE) {
      if (live.data !== fresh.data) live.data = fresh.data;
      return;
    }
    var l = Array.prototype.slice.call(live.childNodes);
    var a = Array.prototype.slice.call(old.childNodes);
    var b = Array.prototype.slice.call(fresh.childNodes);
    if (l.length !== a.length) {  // not as served (cannot happen): put all of it in
      live.replaceChildren.apply(live, b.map(function (node) { return document.importNode(node, true); }));
      return;
    }
    var start = 0;
    while (start < a.length && start < b.length && a[start].isEqualNode(b[start])) start++;
    var endA = a.length, endB = b.length;
    while (endA > start && endB > start && a[endA - 1].isEqualNode(b[endB - 1])) { endA--; endB--; }
    if (endA - start === endB - start) {  // as many nodes as before: pair them
      for (var i = start; i < endA; i++) {
        if (a[i].isEqualNode(b[i])) continue;
        if (similar(a[i], b[i])) patch(l[i], a[i], b[i]);
        else live.replaceChild(document.importNode(b[i], true), l[i]);
      }
      return;
    }
    var after = l[endA] || null;
    for (var j = start; j < endA; j++) live.removeChild(l[j]);
    for (var k = start; k < endB; k++) live.insertBefore(document.importNode(b[k], true), after);
  }

  var updating = Promise.resolve();  // one after the other: a later build's page is put in last
  function update() { updating = updating.then(patchPage); }
  function patchPage() {
    if (!served || document.body.classList.contains("page-search")) {  // search: indexed from the data
      location.reload();
      return;
    }
    return fetch(location.pathname, { cache: "no-store" }).then(function (response) {
      if (!response.ok) throw new Error("HTTP " + response.status);
      return response.text();
    }).then(function (text) {
      var fresh = new DOMParser().parseFromString(text, "text/html");
      if (assets(fresh) !== assets(document) || fresh.documentElement.lang !== document.documentElement.lang ||
          !similar(served, fresh.body)) {
        location.reload();
        return;
      }
      hide();
      document.title = fresh.title;
      patch(document.body, served, fresh.body);
      served = fresh.body;
      document.dispatchEvent(new Event("book:replaced"));  // web.js sets up the new elements
    }).catch(function () { location.reload(); });
  }
  var events = new EventSource("/__serve/events");
  events.addEventListener("update", update);
  events.addEventListener("reload", function () { location.reload(); });
  events.addEventListener("failed", function (event) {
    var messages = JSON.parse(event.data);
    if (document.readyState === "loading") {  // this script runs in the head: wait for the body
      document.addEventListener("DOMContentLoaded", function () { show(messages); }, { once: true });
    } else {
      show(messages);
    }
  });
  events.addEventListener("ok", hide);
})();
