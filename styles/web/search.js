/* The search page: Pagefind (pagefind/pagefind.js, made at build time) finds the pages; each
   result links to the paragraph holding the first match, not only to the page. */
(function () {
  "use strict";
  var form = document.querySelector(".search-form");
  var input = document.getElementById("search-query");
  var status = document.querySelector(".search-status");
  var list = document.querySelector(".search-results");
  if (location.protocol === "file:") {  // browsers refuse to load the index from disk
    document.querySelector(".search-offline").hidden = false;
    form.querySelector("button").disabled = true;
    input.disabled = true;
    return;
  }
  var pagefind = null;
  var BLOCKS = ["p", "li", "dd", "dt", "td", "blockquote", "h1", "h2", "h3"];
  function load() {
    if (!pagefind) pagefind = import(new URL("pagefind/pagefind.js", location.href).href);
    return pagefind;
  }
  // The anchor (an element with an id) at or before a word position: the paragraph to open.
  function anchorFor(data, location) {
    var best = null;
    (data.anchors || []).forEach(function (anchor) {
      if (BLOCKS.indexOf(anchor.element) >= 0 && anchor.location <= location && (!best || anchor.location >= best.location)) best = anchor;
    });
    return best;
  }
  function show(query) {
    list.textContent = "";
    if (!query) { status.textContent = ""; return; }
    status.textContent = "Searching…";
    load().then(function (pf) { return pf.search(query); }).then(function (search) {
      return Promise.all(search.results.slice(0, 20).map(function (r) { return r.data(); }));
    }).then(function (results) {
      status.textContent = results.length ? results.length + (results.length === 1 ? " page" : " pages") + " found" : "Nothing found";
      results.forEach(function (data) {
        var item = document.createElement("li");
        var first = data.locations && data.locations.length ? data.locations[0] : 0;
        var anchor = anchorFor(data, first);
        var link = document.createElement("a");
        link.className = "search-result-title";
        link.href = data.url.replace(/^\//, "").replace(/(^|\/)$/, "$1index.html") + (anchor ? "#" + anchor.id : "");
        link.textContent = data.meta.title || data.url;
        var excerpt = document.createElement("p");
        excerpt.innerHTML = data.excerpt;  // Pagefind's excerpt: the page's own text with <mark>s
        item.appendChild(link);
        item.appendChild(excerpt);
        list.appendChild(item);
      });
    }).catch(function (error) {
      status.textContent = "Search could not load its index: " + error.message;
    });
  }
  var query = new URLSearchParams(location.search).get("q") || "";
  input.value = query;
  show(query);
  form.addEventListener("submit", function (event) {
    event.preventDefault();
    history.replaceState(null, "", "?q=" + encodeURIComponent(input.value));
    show(input.value.trim());
  });
})();
