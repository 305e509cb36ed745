/* Search over the archive, in the browser: every word typed must appear (case and accents
   ignored) in a paper's title, authors or abstract. Reads the site's own search.json, named by the
   form's data-index attribute; fetches nothing else and needs no library.

   The index holds scraped text, so results are built with createElement and textContent only, and
   a result links only to a URL under the site's own root. Works live as you type, on Enter, and
   from /search/?q=words. */
(function () {
  "use strict";

  var LIMIT = 100; // results shown at most; the count says how many matched

  var form = document.getElementById("search-form");
  var input = document.getElementById("search-input");
  var list = document.getElementById("search-results");
  var status = document.getElementById("search-status");
  if (!form || !input || !list || !status || !window.fetch || !window.URL) {
    return;
  }

  var indexUrl = new URL(form.getAttribute("data-index") || "search.json", document.baseURI);
  var root = new URL("./", indexUrl).href;
  var entries = null; // [{paper, text}] once the index is loaded

  function fold(text) {
    return String(text).normalize("NFKD").replace(/[\u0300-\u036f]/g, "").toLowerCase();
  }

  function words(query) {
    return fold(query).split(/\s+/).filter(function (word) {
      return word.length > 0;
    });
  }

  function say(text) {
    status.textContent = text;
  }

  function clear() {
    while (list.firstChild) {
      list.removeChild(list.firstChild);
    }
  }

  function target(paper) {
    var href;
    try {
      href = new URL(String(paper.url), root);
    } catch (error) {
      return null;
    }
    return href.href.indexOf(root) === 0 ? href.href : null;
  }

  function item(paper) {
    var href = target(paper);
    if (href === null) {
      return null;
    }
    var li = document.createElement("li");
    var link = document.createElement("a");
    link.href = href;
    link.textContent = paper.title || "(untitled)";
    li.appendChild(link);
    var meta = document.createElement("span");
    meta.className = "meta";
    var time = document.createElement("time");
    time.dateTime = paper.date;
    time.textContent = paper.date;
    meta.appendChild(time);
    if (paper.authors && paper.authors.length) {
      meta.appendChild(document.createTextNode(" · " + paper.authors.join(", ")));
    }
    li.appendChild(meta);
    return li;
  }

  function remember(query) {
    try {
      var here = new URL(window.location.href);
      if (query) {
        here.searchParams.set("q", query);
      } else {
        here.searchParams.delete("q");
      }
      window.history.replaceState(null, "", here.href);
    } catch (error) {
      // a page opened from a file may refuse; the search itself still works
    }
  }

  function show(query) {
    remember(query);
    if (entries === null) {
      say("Loading the search index…");
      return;
    }
    clear();
    var terms = words(query);
    if (terms.length === 0) {
      say("Type words to search " + entries.length + " papers.");
      return;
    }
    var found = entries.filter(function (entry) {
      return terms.every(function (term) {
        return entry.text.indexOf(term) !== -1;
      });
    });
    var shown = 0;
    for (var i = 0; i < found.length && shown < LIMIT; i++) {
      var li = item(found[i].paper);
      if (li !== null) {
        list.appendChild(li);
        shown++;
      }
    }
    var noun = found.length === 1 ? " paper matches " : " papers match ";
    var more = found.length > shown ? "; showing the first " + shown : "";
    say(found.length + noun + "“" + query.trim() + "”" + more + ".");
  }

  function load() {
    return fetch(indexUrl.href, { credentials: "same-origin" })
      .then(function (response) {
        if (!response.ok) {
          throw new Error("HTTP " + response.status);
        }
        return response.json();
      })
      .then(function (data) {
        entries = (data.papers || []).map(function (paper) {
          var authors = Array.isArray(paper.authors) ? paper.authors : [];
          var text = [paper.title, authors.join(" "), paper.abstract].join(" ");
          return { paper: paper, text: fold(text) };
        });
      });
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    show(input.value);
  });
  input.addEventListener("input", function () {
    show(input.value);
  });

  input.value = new URLSearchParams(window.location.search).get("q") || input.value;
  say("Loading the search index…");
  load().then(
    function () {
      show(input.value);
    },
    function (error) {
      say("The search index could not be loaded (" + error.message + "). Browse the archive by day instead.");
    }
  );
})();
