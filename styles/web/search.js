/* The search page. MiniSearch (assets/vendor/) indexes the book's paragraphs, which
   assets/search-data.js sets as window.BOOK_SEARCH: a script, not a fetch, so that search works
   from a site opened from disk as well as served. Each result opens its paragraph. Words in
   quotation marks must appear together, in that order. */
(function () {
  "use strict";
  var form = document.querySelector(".search-form");
  var input = document.getElementById("search-query");
  var status = document.querySelector(".search-status");
  var list = document.querySelector(".search-results");
  var MAX_RESULTS = 50;
  var EXCERPT_WORDS = 36;
  var index = null;

  // Case, accents and the shape of quotation marks do not matter to a search.
  function fold(text) {
    return text.normalize("NFD").replace(/\p{M}/gu, "").replace(/[‘’ʼ]/g, "'").toLowerCase();
  }
  function words(text) {
    return fold(text).split(/[^\p{L}\p{N}]+/u).filter(Boolean);
  }
  function load() {
    if (!index) {
      index = new MiniSearch({
        fields: ["text"],  // a result shows its words; the heading only says where it stands
        storeFields: ["page", "anchor", "title", "section", "text"],
        processTerm: function (term) { var t = fold(term).replace(/^'+|'+$/g, ""); return t || null; },
        searchOptions: {
          prefix: function (term) { return term.length > 2; },
          fuzzy: function (term) { return term.length > 4 ? 0.2 : false; },
          combineWith: "AND"
        }
      });
      index.addAll(window.BOOK_SEARCH || []);
    }
    return index;
  }
  // The phrases the reader put in quotation marks, as sequences of words.
  function phrasesOf(query) {
    var phrases = [];
    query.replace(/["“”„]([^"“”„]+)["“”„]/g, function (_, phrase) { phrases.push(words(phrase)); return ""; });
    return phrases.filter(function (p) { return p.length; });
  }
  function containsPhrase(textWords, phrase) {
    for (var i = 0; i + phrase.length <= textWords.length; i++) {
      var j = 0;
      while (j < phrase.length && textWords[i + j] === phrase[j]) j++;
      if (j === phrase.length) return i;
    }
    return -1;
  }
  // The result's text around its first match, with the matched words marked: the words of each
  // phrase where they stand together, and every word the index matched (a typo's correction too)
  // but for scraps like the "s" of "Bukharin's", which would light up every possessive.
  function excerpt(text, terms, phrases) {
    var tokens = text.split(/\s+/);
    var flat = [];  // [token number, word] for every word of the text
    tokens.forEach(function (token, n) { words(token).forEach(function (w) { flat.push([n, w]); }); });
    var flatWords = flat.map(function (pair) { return pair[1]; });
    var marked = {};
    var first = -1;
    phrases.forEach(function (phrase) {
      var at = containsPhrase(flatWords, phrase);
      if (at < 0) return;
      for (var k = at; k < at + phrase.length; k++) marked[flat[k][0]] = true;
      if (first < 0 || flat[at][0] < first) first = flat[at][0];
    });
    flat.forEach(function (pair) {
      if (pair[1].length > 2 && terms.indexOf(pair[1]) >= 0) {
        marked[pair[0]] = true;
        if (!phrases.length && (first < 0 || pair[0] < first)) first = pair[0];
      }
    });
    var start = Math.max(0, Math.max(first, 0) - Math.floor(EXCERPT_WORDS / 3));
    var end = Math.min(tokens.length, start + EXCERPT_WORDS);
    var p = document.createElement("p");
    if (start > 0) p.appendChild(document.createTextNode("… "));
    for (var n = start; n < end; n++) {
      if (n > start) p.appendChild(document.createTextNode(" "));
      if (marked[n]) {
        var mark = document.createElement("mark");
        mark.textContent = tokens[n];
        p.appendChild(mark);
      } else {
        p.appendChild(document.createTextNode(tokens[n]));
      }
    }
    if (end < tokens.length) p.appendChild(document.createTextNode(" …"));
    return p;
  }
  function show(query) {
    list.textContent = "";
    if (!query) { status.textContent = ""; return; }
    if (typeof MiniSearch === "undefined" || !window.BOOK_SEARCH) {
      status.textContent = "Search could not load its data; the index of the book lists people, terms and subjects.";
      return;
    }
    var phrases = phrasesOf(query);
    var results = load().search(query.replace(/["“”„]/g, " ")).filter(function (r) {
      var textWords = words(r.text);
      return phrases.every(function (phrase) { return containsPhrase(textWords, phrase) >= 0; });
    });
    var shown = results.slice(0, MAX_RESULTS);
    status.textContent = results.length
      ? results.length + (results.length === 1 ? " paragraph" : " paragraphs") + " found" +
        (results.length > shown.length ? "; the best " + shown.length + " are listed" : "")
      : "Nothing found";
    shown.forEach(function (r) {
      var item = document.createElement("li");
      var link = document.createElement("a");
      link.className = "search-result-title";
      link.href = r.page + "#" + r.anchor;
      link.textContent = r.section ? r.title + " › " + r.section : r.title;
      item.appendChild(link);
      item.appendChild(excerpt(r.text, r.terms, phrases));
      list.appendChild(item);
    });
  }
  var query = new URLSearchParams(location.search).get("q") || "";
  input.value = query;
  show(query.trim());
  form.addEventListener("submit", function (event) {
    event.preventDefault();
    try {  // keep the query in the address, for the back button and for sharing
      history.replaceState(null, "", "?q=" + encodeURIComponent(input.value));
    } catch (error) { /* some browsers refuse this on a page opened from disk */ }
    show(input.value.trim());
  });
})();
