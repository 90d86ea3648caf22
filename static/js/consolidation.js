// The consolidation page's "merge more / merge less" control without a page load. The form
// posts and redirects exactly as it does without JavaScript; the page it leads to replaces
// only the groups and the counts, so the reader keeps their place.
(function () {
  "use strict";

  var region = document.getElementById("cs-region");
  if (!region || !window.fetch || !window.DOMParser || !window.FormData) {
    return;
  }
  var busy = false;
  // The address the shown groups belong to: following a link to a card ("#g12") is a
  // history step too, and must not draw the page again.
  var shown = window.location.pathname + window.location.search;

  // Read out the new number of groups: the swapped text itself is not announced.
  var announcer = document.createElement("p");
  announcer.className = "sr";
  announcer.setAttribute("aria-live", "polite");
  region.parentNode.insertBefore(announcer, region);

  function replaceChildren(target, source) {
    while (target.firstChild) {
      target.removeChild(target.firstChild);
    }
    Array.prototype.slice.call(source.childNodes).forEach(function (node) {
      target.appendChild(document.adoptNode(node));
    });
  }

  function swap(html) {
    var page = new DOMParser().parseFromString(html, "text/html");
    var fresh = page.getElementById("cs-region");
    if (!fresh) {
      return false;
    }
    var y = window.scrollY;
    replaceChildren(region, fresh);
    var counts = document.getElementById("cs-counts");
    var freshCounts = page.getElementById("cs-counts");
    if (counts && freshCounts) {
      replaceChildren(counts, freshCounts);
    }
    // A message about an earlier action no longer describes the page.
    var old = document.querySelector("main > .messages");
    var news = page.querySelector("main > .messages");
    if (old) {
      old.parentNode.removeChild(old);
    }
    var main = document.getElementById("main");
    if (news && main) {
      main.insertBefore(document.adoptNode(news), main.firstChild);
    }
    window.scrollTo(window.scrollX, y);
    var summary = document.getElementById("cs-summary");
    announcer.textContent = summary ? summary.textContent.replace(/\s+/g, " ").trim() : "";
    return true;
  }

  function load(url, options, focusOn, push) {
    busy = true;
    region.setAttribute("aria-busy", "true");
    return fetch(url, Object.assign({ credentials: "same-origin" }, options))
      .then(function (response) {
        return response.text().then(function (html) {
          if (!response.ok || !swap(html)) {
            window.location.assign(response.url || url);
            return;
          }
          if (push && response.url && response.url !== window.location.href) {
            window.history.pushState({ consolidation: true }, "", response.url);
          }
          shown = window.location.pathname + window.location.search;
          var button = focusOn && region.querySelector(focusOn);
          if (button && !button.disabled) {
            button.focus({ preventScroll: true });
          }
        });
      })
      .finally(function () {
        busy = false;
        region.removeAttribute("aria-busy");
      });
  }

  region.addEventListener("submit", function (event) {
    var form = event.target;
    if (!form.hasAttribute("data-cs-swap") || form.hasAttribute("data-cs-plain")) {
      return;
    }
    event.preventDefault();
    if (busy) {
      return;
    }
    var submitter = event.submitter;
    var data = new FormData(form);
    var focusOn = null;
    if (submitter && submitter.name) {
      data.append(submitter.name, submitter.value);
      focusOn = 'form[data-cs-swap] [name="' + submitter.name + '"][value="' + submitter.value + '"]';
    }
    load(form.action, { method: "POST", body: data }, focusOn, true).catch(function () {
      // The network failed before an answer: post the ordinary way.
      form.setAttribute("data-cs-plain", "");
      if (form.requestSubmit) {
        form.requestSubmit(submitter || undefined);
      } else {
        form.submit();
      }
    });
  });

  window.addEventListener("popstate", function () {
    if (window.location.pathname + window.location.search === shown) {
      return;
    }
    load(window.location.href, {}, null, false).catch(function () {
      window.location.reload();
    });
  });
})();
