/* incidentctl static site: the index's filters and instant search.
 *
 * Plain JavaScript, no library, no network: the rows are in the page, and the words
 * each incident is found by (title, summary, timeline) come from search-index.js,
 * written at build time. Text is only ever set with textContent, never as HTML.
 * The filters are kept in the address (#q=…&severity=…), so a view can be shared.
 */
(function () {
  "use strict";
  document.documentElement.classList.add("js");
  var table = document.getElementById("incidents");
  var form = document.getElementById("filters");
  if (!table || !form) {
    return;
  }
  var FIELDS = ["status", "severity", "type", "service", "year"];
  var rows = Array.prototype.slice.call(table.tBodies[0].rows);
  var items = rows.map(function (row) {
    var services = [];
    try {
      services = JSON.parse(row.getAttribute("data-services") || "[]");
    } catch (e) {
      services = [];
    }
    return {
      row: row,
      id: row.getAttribute("data-id") || "",
      status: row.getAttribute("data-status") || "",
      active: row.getAttribute("data-active") === "1",
      severity: row.getAttribute("data-severity") || "",
      type: row.getAttribute("data-type") || "",
      year: row.getAttribute("data-year") || "",
      services: services,
      fallback: (row.textContent || "").toLowerCase()
    };
  });
  var query = document.getElementById("q");
  var count = document.getElementById("count");
  var empty = document.getElementById("empty");
  var selects = {};
  FIELDS.forEach(function (name) {
    selects[name] = document.getElementById("filter-" + name);
  });
  form.hidden = false;

  function words(text) {
    return text.toLowerCase().split(/[^\p{L}\p{N}_]+/u).filter(function (w) {
      return w.length > 0;
    });
  }

  function matches(item, wanted, index) {
    var status = selects.status.value;
    if (status === "active" ? !item.active : status && item.status !== status) {
      return false;
    }
    if (selects.severity.value && item.severity !== selects.severity.value) {
      return false;
    }
    if (selects.type.value && item.type !== selects.type.value) {
      return false;
    }
    if (selects.year.value && item.year !== selects.year.value) {
      return false;
    }
    if (selects.service.value && item.services.indexOf(selects.service.value) < 0) {
      return false;
    }
    if (wanted.length) {
      var hay = Object.prototype.hasOwnProperty.call(index, item.id) ? index[item.id] : item.fallback;
      for (var i = 0; i < wanted.length; i++) {
        if (hay.indexOf(wanted[i]) < 0) {
          return false;
        }
      }
    }
    return true;
  }

  function apply() {
    var index = window.INCIDENTCTL_SEARCH || {};
    var wanted = words(query.value);
    var shown = 0;
    for (var i = 0; i < items.length; i++) {
      var ok = matches(items[i], wanted, index);
      if (items[i].row.hidden === ok) {
        items[i].row.hidden = !ok;
      }
      if (ok) {
        shown++;
      }
    }
    count.textContent = shown === items.length
      ? items.length + (items.length === 1 ? " incident" : " incidents")
      : shown + " of " + items.length + " incidents";
    empty.hidden = shown !== 0;
    remember();
  }

  function remember() {
    var parts = [];
    if (query.value) {
      parts.push("q=" + encodeURIComponent(query.value));
    }
    FIELDS.forEach(function (name) {
      if (selects[name].value) {
        parts.push(name + "=" + encodeURIComponent(selects[name].value));
      }
    });
    var hash = parts.length ? "#" + parts.join("&") : "";
    if (window.location.hash !== hash && window.history && window.history.replaceState) {
      window.history.replaceState(null, "", hash || window.location.pathname + window.location.search);
    }
  }

  function restore() {
    var hash = window.location.hash.replace(/^#/, "");
    hash.split("&").forEach(function (part) {
      var cut = part.indexOf("=");
      if (cut < 0) {
        return;
      }
      var name = part.slice(0, cut);
      var value;
      try {
        value = decodeURIComponent(part.slice(cut + 1));
      } catch (e) {
        return;
      }
      if (name === "q") {
        query.value = value;
      } else if (selects[name]) {
        var known = Array.prototype.some.call(selects[name].options, function (o) {
          return o.value === value;
        });
        if (known) {
          selects[name].value = value;
        }
      }
    });
  }

  var timer = null;
  function later() {
    if (timer !== null) {
      window.clearTimeout(timer);
    }
    timer = window.setTimeout(function () {
      timer = null;
      apply();
    }, items.length > 2000 ? 120 : 30);
  }

  query.addEventListener("input", later);
  FIELDS.forEach(function (name) {
    selects[name].addEventListener("change", apply);
  });
  form.addEventListener("submit", function (event) {
    event.preventDefault();
    apply();
  });
  form.addEventListener("reset", function () {
    window.setTimeout(apply, 0);
  });
  restore();
  apply();
})();
