/* Smart Missed Calls — the wallboard's script. The board is drawn by the server; this keeps it
 * current: it reads the board's figures again when the event stream says the tenant's list
 * changed (and every half minute, as ages grow and claims lapse). Text only, never markup. */
(function () {
  'use strict';

  var REFRESH_MS = 30000;

  function board() { return document.getElementById('smc-wallboard'); }

  function cell(className, text) {
    var td = document.createElement('td');
    td.className = className;
    td.textContent = text;
    return td;
  }

  function show(shown) {
    Object.keys(shown).forEach(function (key) {
      var el = document.querySelector('[data-figure="' + key + '"]');
      if (el) el.textContent = shown[key];
    });
    var body = document.getElementById('smc-wb-rows');
    while (body.firstChild) body.removeChild(body.firstChild);
    shown.rows.forEach(function (r) {
      var tr = document.createElement('tr');
      tr.setAttribute('data-entry-id', String(r.id));
      tr.className = [r.claim ? 'smc-wb-claimed' : '', r.pastTarget ? 'smc-wb-late' : ''].filter(Boolean).join(' ');
      var caller = cell('smc-wb-caller', r.caller + ' ');
      var missed = document.createElement('span');
      missed.className = 'smc-wb-missed';
      missed.textContent = r.missed;
      caller.appendChild(missed);
      tr.appendChild(caller);
      tr.appendChild(cell('smc-wb-age', r.age));
      var claim = cell('smc-wb-claim', r.claim);
      if (r.claimSince) {
        var since = document.createElement('span');
        since.className = 'smc-wb-since';
        since.textContent = r.claimSince;
        claim.appendChild(document.createTextNode(' '));
        claim.appendChild(since);
      }
      tr.appendChild(claim);
      body.appendChild(tr);
    });
    document.getElementById('smc-wb-empty').hidden = shown.rows.length > 0;
  }

  var gone = false;
  function revoked() {
    gone = true;
    document.getElementById('smc-wb-gone').hidden = false;
    document.body.classList.add('smc-wb-revoked');
  }

  function refresh() {
    if (gone) return Promise.resolve();
    return fetch(board().getAttribute('data-url'), { credentials: 'omit', cache: 'no-store' }).then(function (res) {
      if (res.status === 403) { revoked(); return; }
      if (!res.ok) return;
      return res.json().then(function (data) { show(data.shown); });
    }, function () { /* the service is away: the next refresh catches up */ });
  }

  /** Live updates; a stream the browser gave up on (refused: 403 revoked, 503 busy) is looked into and, unless revoked, opened again later. */
  function connect() {
    var source = new EventSource(board().getAttribute('data-events'));
    var pending = null;
    source.addEventListener('changes', function () {
      if (pending) return;
      pending = setTimeout(function () { pending = null; refresh(); }, 150);
    });
    source.addEventListener('error', function () {
      if (source.readyState !== EventSource.CLOSED) return;
      refresh().then(function () { if (!gone) setTimeout(connect, REFRESH_MS); });
    });
  }

  function start() {
    if (!board()) return;
    setInterval(refresh, REFRESH_MS);
    if (window.EventSource) connect();
  }

  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', start);
  else start();
})();
