/* Only for `python build.py serve` (not shipped with the site): reload the page when the book
   is rebuilt; show a failed build's messages over the page, which stays usable beneath them. */
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
  var events = new EventSource("/__serve/events");
  events.addEventListener("reload", function () { location.reload(); });
  events.addEventListener("failed", function (event) { show(JSON.parse(event.data)); });
  events.addEventListener("ok", hide);
})();
