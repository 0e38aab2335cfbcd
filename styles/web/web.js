/* The web edition's behaviour: the contents button, note pop-ups on narrow screens (margin
   notes need nothing), and Escape to dismiss a glossary definition (WCAG 1.4.13). */
(function () {
  "use strict";
  document.documentElement.classList.add("js");
  var wide = window.matchMedia("(min-width: 1100px)");

  function noteOf(call) { return document.getElementById(call.getAttribute("href").slice(1)); }
  function setOpen(call, open) {
    var note = noteOf(call);
    if (!note) return;
    note.classList.toggle("open", open);
    call.setAttribute("aria-expanded", String(open));
  }

  // The state the page's elements start in; again when `python build.py serve` has put a rebuilt
  // page's new elements in place of old ones (its serve.js sends "book:replaced"). The listeners
  // below are the document's, so they serve the new elements as they did the old.
  function prepare() {
    var toggle = document.querySelector(".toc-toggle");
    var toc = document.getElementById("toc");
    if (toggle && toc) {
      toggle.hidden = false;
      if (toggle.getAttribute("aria-expanded") !== "true") toc.classList.add("collapsed");
    }
    document.querySelectorAll("a.noteref:not([aria-controls])").forEach(function (call) {
      call.setAttribute("aria-controls", call.getAttribute("href").slice(1));
      call.setAttribute("aria-expanded", "false");
    });
    // Self-check questions: the button is hidden without scripts, when the <details> gives the answer.
    document.querySelectorAll(".selfcheck-item[data-answer]").forEach(function (item) {
      var button = item.querySelector(".selfcheck-check");
      if (button && item.querySelector(".selfcheck-result")) button.hidden = false;
    });
  }
  prepare();
  document.addEventListener("book:replaced", prepare);

  document.addEventListener("click", function (event) {
    var target = event.target.closest ? event.target : event.target.parentElement;
    if (!target) return;
    var toggle = target.closest(".toc-toggle");
    var toc = document.getElementById("toc");
    if (toggle && toc) {
      var open = toc.classList.toggle("collapsed") === false;
      toggle.setAttribute("aria-expanded", String(open));
      return;
    }
    var call = target.closest("a.noteref");
    if (call) {
      event.preventDefault();
      var note = noteOf(call);
      if (wide.matches) {  // the note is beside the call already: point it out
        document.querySelectorAll(".sidenote.highlight").forEach(function (n) { n.classList.remove("highlight"); });
        if (note) note.classList.add("highlight");
        return;
      }
      setOpen(call, !(note && note.classList.contains("open")));
      return;
    }
    // A note's back-link closes its pop-up and returns to the call.
    var back = target.closest(".sidenote .note-number");
    if (back) {
      var from = document.getElementById(back.getAttribute("href").slice(1));
      if (!from) return;
      event.preventDefault();
      setOpen(from, false);
      from.focus();
      return;
    }
    var check = target.closest(".selfcheck-item[data-answer] .selfcheck-check");
    if (check) answer(check.closest(".selfcheck-item"));
  });

  document.addEventListener("keydown", function (event) {
    if (event.key !== "Escape") return;
    document.querySelectorAll(".gloss-wrap").forEach(function (wrap) { wrap.classList.add("dismissed"); });
    var open = document.querySelector(".sidenote.open");
    if (open) {
      var call = document.getElementById(open.id.replace("-note-", "-ref-"));
      if (call) { setOpen(call, false); call.focus(); }
    }
  });
  // Show a definition again after Escape, and keep it inside the window's width.
  function place(event) {
    var wrap = event.target.closest && event.target.closest(".gloss-wrap");
    if (!wrap) return;
    wrap.classList.remove("dismissed");
    var tip = wrap.querySelector(".gloss-tip");
    if (!tip) return;
    tip.style.left = "0px";
    var box = tip.getBoundingClientRect();
    var over = box.right - (document.documentElement.clientWidth - 8);
    if (box.width && over > 0) tip.style.left = -Math.min(over, Math.max(0, box.left - 8)) + "px";
  }
  document.addEventListener("focusin", place);
  document.addEventListener("mouseover", place);

  // Self-check questions: the button says whether the chosen option is right; the result is
  // announced (aria-live).
  function answer(item) {
    var result = item.querySelector(".selfcheck-result");
    var answer = item.querySelector(".selfcheck-answer");
    if (!result) return;
    var chosen = item.querySelector("input[type=radio]:checked");
    item.classList.remove("right", "wrong");
    if (!chosen) {
      result.textContent = "Choose one of the answers first.";
      return;
    }
    var letter = chosen.parentNode.querySelector(".selfcheck-letter").textContent.replace(".", "");
    if (chosen.value === item.getAttribute("data-answer")) {
      item.classList.add("right");
      result.textContent = "Right: " + letter + " is the answer. The explanation is below.";
      if (answer) answer.open = true;
    } else {
      item.classList.add("wrong");
      result.textContent = "Not right: " + letter + " is not the answer. Try another.";
    }
  }
})();
