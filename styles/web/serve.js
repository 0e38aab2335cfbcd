/* Only for `python build.py serve` (not shipped with the site): show the rebuilt page after a
   save; show a failed build's messages over the page, which stays usable beneath them.
   After an edit of the text ("update") the new page's body takes the old one's place, with no
   reload: the styles, scripts and fonts stay as they are, and so does the place read. After an
   edit of the styles ("reload"), or where the new page's head differs, the page is reloaded. */
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
  function update() {
    if (document.body.classList.contains("page-search")) {  // its index is built from the search data
      location.reload();
      return;
    }
    fetch(location.pathname, { cache: "no-store" }).then(function (response) {
      if (!response.ok) throw new Error("HTTP " + response.status);
      return response.text();
    }).then(function (text) {
      var fresh = new DOMParser().parseFromString(text, "text/html");
      if (assets(fresh) !== assets(document) || fresh.documentElement.lang !== document.documentElement.lang) {
        location.reload();
        return;
      }
      var x = window.scrollX, y = window.scrollY;
      document.title = fresh.title;
      document.body.replaceWith(document.adoptNode(fresh.body));  // its scripts do not run again
      overlay = null;
      window.scrollTo(x, y);
      document.dispatchEvent(new Event("book:replaced"));  // web.js sets up the new elements
    }).catch(function () { location.reload(); });
  }
  var events = new EventSource("/__serve/events");
  events.addEventListener("update", update);
  events.addEventListener("reload", function () { location.reload(); });
  events.addEventListener("failed", function (event) { show(JSON.parse(event.data)); });
  events.addEventListener("ok", hide);
})();
