/* The web edition's behaviour: the contents button, note pop-ups on narrow screens (margin
   notes need nothing), and Escape to dismiss a glossary definition (WCAG 1.4.13). */
(function () {
  "use strict";
  document.documentElement.classList.add("js");
  var wide = window.matchMedia("(min-width: 1100px)");

  var toggle = document.querySelector(".toc-toggle");
  var toc = document.getElementById("toc");
  if (toggle && toc) {
    toggle.hidden = false;
    toc.classList.add("collapsed");
    toggle.addEventListener("click", function () {
      var open = toc.classList.toggle("collapsed") === false;
      toggle.setAttribute("aria-expanded", String(open));
    });
  }

  function noteOf(call) { return document.getElementById(call.getAttribute("href").slice(1)); }
  function setOpen(call, open) {
    var note = noteOf(call);
    if (!note) return;
    note.classList.toggle("open", open);
    call.setAttribute("aria-expanded", String(open));
  }
  var calls = Array.prototype.slice.call(document.querySelectorAll("a.noteref"));
  calls.forEach(function (call) {
    call.setAttribute("aria-controls", call.getAttribute("href").slice(1));
    call.setAttribute("aria-expanded", "false");
    call.addEventListener("click", function (event) {
      event.preventDefault();
      var note = noteOf(call);
      if (wide.matches) {  // the note is beside the call already: point it out
        calls.forEach(function (other) { var n = noteOf(other); if (n) n.classList.remove("highlight"); });
        if (note) note.classList.add("highlight");
        return;
      }
      setOpen(call, !(note && note.classList.contains("open")));
    });
  });
  // A note's back-link closes its pop-up and returns to the call.
  document.querySelectorAll(".sidenote .note-number").forEach(function (back) {
    back.addEventListener("click", function (event) {
      var call = document.getElementById(back.getAttribute("href").slice(1));
      if (!call) return;
      event.preventDefault();
      setOpen(call, false);
      call.focus();
    });
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

  // Self-check questions: the button (hidden without scripts, when the <details> gives the
  // answer) says whether the chosen option is right; the result is announced (aria-live).
  document.querySelectorAll(".selfcheck-item[data-answer]").forEach(function (item) {
    var button = item.querySelector(".selfcheck-check");
    var result = item.querySelector(".selfcheck-result");
    var answer = item.querySelector(".selfcheck-answer");
    if (!button || !result) return;
    button.hidden = false;
    button.addEventListener("click", function () {
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
    });
  });
})();
