/* Keeps an open page live. One EventSource on /api/events (the session cookie authenticates it);
   for each event, the regions that show its resource fetch their fragment URL again and are
   swapped for what the server renders now. The stream carries ids and versions only, so a
   region never trusts it: the server applies the caller's visibility again on every fetch.

   A region:  <section data-region="/fragments/board" data-watch="ticket"> … </section>
   data-watch lists resource types ("ticket") or single resources ("ticket:tkt_1"); elements
   inside carry data-resource="ticket:tkt_1" data-version="3", so an event whose version the
   region already shows is ignored. */
(function () {
  "use strict";

  var STREAM = "/api/events";
  var source = null;
  var lastId = null;
  var connectedOnce = false;
  var retryMs = 1000;
  var fetches = {}; // region URL → {busy, again}: one fetch at a time, the latest wins

  function cookie(name) {
    var match = document.cookie.match(new RegExp("(?:^|; )" + name + "=([^;]*)"));
    return match ? decodeURIComponent(match[1]) : "";
  }

  function regionAt(url) {
    return document.querySelector('[data-region="' + CSS.escape(url) + '"]');
  }

  function watches(region, resource) {
    var watched = (region.getAttribute("data-watch") || "").split(/\s+/);
    return watched.indexOf(resource.type) !== -1 ||
      watched.indexOf(resource.type + ":" + resource.id) !== -1;
  }

  function alreadyShows(region, resource, version) {
    if (version === null || version === undefined) return false;
    var key = resource.type + ":" + resource.id;
    var shown = region.getAttribute("data-resource") === key ? region :
      region.querySelector('[data-resource="' + CSS.escape(key) + '"]');
    return !!shown && Number(shown.getAttribute("data-version")) >= version;
  }

  // What a person has typed or chosen in a region's forms, so that a swap keeps it.
  function fieldKey(field) {
    return (field.form ? field.form.getAttribute("action") : "") + "|" + field.name;
  }

  function edited(region) {
    var kept = {};
    region.querySelectorAll("input[name], textarea[name], select[name]").forEach(function (field) {
      var changed = field.tagName === "SELECT" ?
        Array.prototype.some.call(field.options, function (o) { return o.selected !== o.defaultSelected; }) :
        field.type !== "hidden" && field.value !== field.defaultValue;
      if (changed) kept[fieldKey(field)] = field.value;
    });
    return kept;
  }

  function restore(region, kept, focusedKey) {
    region.querySelectorAll("input[name], textarea[name], select[name]").forEach(function (field) {
      var key = fieldKey(field);
      if (Object.prototype.hasOwnProperty.call(kept, key)) field.value = kept[key];
      if (key === focusedKey) field.focus();
    });
  }

  function swap(url, html) {
    var region = regionAt(url);
    if (!region) return;
    var holder = document.createElement("template");
    holder.innerHTML = html.trim();
    var fresh = holder.content.firstElementChild;
    if (!fresh) return;
    var kept = edited(region);
    var focused = region.contains(document.activeElement) && document.activeElement.name ?
      fieldKey(document.activeElement) : null;
    region.replaceWith(fresh);
    restore(fresh, kept, focused);
  }

  function refresh(url) {
    var state = fetches[url] || (fetches[url] = { busy: false, again: false });
    if (state.busy) { state.again = true; return; }
    state.busy = true;
    fetch(url, { credentials: "same-origin", cache: "no-store", headers: { Accept: "text/html" } })
      .then(function (response) {
        if (response.status === 401) return renew().then(function () { state.again = true; });
        if (response.status === 404) { window.location.reload(); return null; }
        if (!response.ok) return null;
        return response.text().then(function (html) { swap(url, html); });
      })
      .catch(function () { /* offline for a moment: the next event fetches again */ })
      .then(function () {
        state.busy = false;
        if (state.again) { state.again = false; refresh(url); }
      });
  }

  function refreshAll() {
    document.querySelectorAll("[data-region]").forEach(function (region) {
      refresh(region.getAttribute("data-region"));
    });
  }

  function onEvent(message) {
    var envelope = message.data || {};
    var resources = envelope.resources || [];
    // A notification names the resource it is about too; only the bell and inbox care here.
    if (message.type === "notification.created") resources = resources.slice(0, 1);
    var urls = [];
    resources.forEach(function (resource) {
      document.querySelectorAll("[data-region]").forEach(function (region) {
        if (!watches(region, resource) || alreadyShows(region, resource, envelope.version)) return;
        var url = region.getAttribute("data-region");
        if (urls.indexOf(url) === -1) urls.push(url);
      });
    });
    urls.forEach(refresh);
  }

  // A new access token from the refresh cookie; the forms get the new CSRF token with it.
  function renew() {
    return fetch("/api/auth/refresh", {
      method: "POST", credentials: "same-origin", body: "{}",
      headers: { "Content-Type": "application/json", "X-CSRF-TOKEN": cookie("csrf_refresh_token") }
    }).then(function (response) {
      if (!response.ok) throw new Error("signed out");
      var token = cookie("csrf_access_token");
      document.querySelectorAll('input[name="csrf_token"]').forEach(function (input) {
        input.value = token;
      });
    }).catch(function (error) {
      window.location.reload(); // signed out: the page sends the browser to sign in
      throw error;
    });
  }

  function reopen() {
    if (source) source.close();
    renew().then(function () { window.setTimeout(open, 0); }, function () {});
  }

  function open() {
    var url = STREAM + (lastId ? "?lastEventId=" + encodeURIComponent(lastId) : "");
    source = new EventSource(url, { withCredentials: true });
    source.onmessage = function (event) {
      if (event.lastEventId) lastId = event.lastEventId;
      var message;
      try { message = JSON.parse(event.data); } catch (error) { return; }
      switch (message.type) {
        case "connected":
          retryMs = 1000;
          document.documentElement.setAttribute("data-live", "connected");
          // What changed between this page's render and the stream's start is fetched once.
          if (!connectedOnce) { connectedOnce = true; refreshAll(); }
          return;
        case "resync": window.location.reload(); return;
        case "token_expiring": reopen(); return;
        case "session_revoked": source.close(); window.location.reload(); return;
        default: onEvent(message);
      }
    };
    source.onerror = function () {
      document.documentElement.setAttribute("data-live", "reconnecting");
      if (source.readyState !== EventSource.CLOSED) return; // the browser retries by itself
      // Refused (an expired token, a full server): renew the token, then try again, slower.
      window.setTimeout(reopen, retryMs);
      retryMs = Math.min(retryMs * 2, 30000);
    };
  }

  if (window.EventSource && window.fetch) open();
})();
