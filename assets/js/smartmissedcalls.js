/* Smart Missed Calls — the page script. Plain ES2017, no framework: charts, live updates
 * (server-sent events), resolving, settings and the calculator. Everything shown comes
 * either from server-rendered (escaped) HTML or is set as text, never as markup. */
(function () {
  'use strict';

  var COLORS = {
    missed: '#d9534f', answered: '#5cb85c', blue: '#337ab7', amber: '#f0ad4e', grey: '#8c8c8c', teal: '#5bc0de', purple: '#7e57c2',
  };
  var RESOLUTION_COLORS = {
    open: COLORS.missed, returned: COLORS.blue, answered_later: COLORS.answered, manual: COLORS.amber, expired: COLORS.grey, reclassified: COLORS.purple,
  };
  var LONGEST_LABEL = 26;

  function shortLabel(text) {
    text = String(text);
    return text.length > LONGEST_LABEL ? text.slice(0, LONGEST_LABEL - 1) + '…' : text;
  }

  function root() { return document.getElementById('smc-root'); }

  function csrf() {
    var r = root();
    return r ? r.getAttribute('data-csrf') : '';
  }

  function send(url, method, body) {
    return fetch(url, {
      method: method,
      credentials: 'same-origin',
      headers: { 'Content-Type': 'application/json', 'Accept': 'application/json', 'X-CSRF-Token': csrf() },
      body: body === undefined ? undefined : JSON.stringify(body),
    }).then(function (res) {
      return res.json().catch(function () { return {}; }).then(function (data) { return { status: res.status, data: data }; });
    });
  }

  function getText(url) {
    return fetch(url, { credentials: 'same-origin' }).then(function (res) {
      if (!res.ok) throw new Error('HTTP ' + res.status);
      return res.text();
    });
  }

  // ---- charts ---------------------------------------------------------------------------

  var chartLoading = null;
  function withChart() {
    if (window.Chart) return Promise.resolve(window.Chart);
    if (!chartLoading) {
      chartLoading = new Promise(function (resolve, reject) {
        var s = document.createElement('script');
        s.src = root().getAttribute('data-chart-src');
        s.onload = function () { resolve(window.Chart); };
        s.onerror = reject;
        document.head.appendChild(s);
      });
    }
    return chartLoading;
  }

  var charts = {};

  function datasetColors(kind, i) {
    if (kind === 'line' || kind === 'stacked') return i === 0 ? (kind === 'line' ? COLORS.missed : COLORS.answered) : (kind === 'line' ? COLORS.answered : COLORS.amber);
    return COLORS.blue;
  }

  function chartConfig(kind, spec) {
    var type = kind === 'hbar' || kind === 'stacked' ? 'bar' : kind;
    var datasets = spec.series.map(function (s, i) {
      var color = kind === 'doughnut' ? spec.keys.map(function (k) { return RESOLUTION_COLORS[k] || COLORS.teal; }) : datasetColors(kind, i);
      return {
        label: s.label, data: s.data, backgroundColor: kind === 'line' ? color + '33' : color, borderColor: color,
        borderWidth: kind === 'doughnut' ? 1 : 2, fill: kind === 'line' && i === 0, tension: 0.25, pointRadius: 2,
      };
    });
    var options = {
      responsive: true, maintainAspectRatio: false, animation: false,
      plugins: { legend: { display: kind === 'line' || kind === 'doughnut' || kind === 'stacked', position: 'bottom' } },
    };
    if (kind !== 'doughnut') {
      options.scales = { x: { stacked: kind === 'stacked', ticks: { autoSkip: true, maxRotation: 0 } }, y: { stacked: kind === 'stacked', beginAtZero: true, ticks: { precision: 0 } } };
      if (kind === 'hbar' || kind === 'stacked') options.indexAxis = 'y';
      if (kind === 'hbar' || kind === 'stacked') {
        options.scales = {
          x: { stacked: kind === 'stacked', beginAtZero: true, ticks: { precision: 0 } },
          // Long route names would squeeze the bars: the axis shows them cut, the tooltip whole.
          y: { stacked: kind === 'stacked', ticks: { autoSkip: false, callback: function (value) { return shortLabel(this.getLabelForValue(value)); } } },
        };
      }
    }
    return { type: type, data: { labels: spec.labels, datasets: datasets }, options: options };
  }

  /** The weekday × hour heatmap: chart.js has no matrix chart without a plugin, so it is drawn here. */
  function drawHeatmap(canvas, spec) {
    var box = canvas.parentNode.getBoundingClientRect();
    var ratio = window.devicePixelRatio || 1;
    canvas.width = Math.max(200, box.width) * ratio;
    canvas.height = Math.max(150, box.height) * ratio;
    canvas.style.width = Math.max(200, box.width) + 'px';
    canvas.style.height = Math.max(150, box.height) + 'px';
    var ctx = canvas.getContext('2d');
    ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
    var w = canvas.width / ratio, h = canvas.height / ratio;
    ctx.clearRect(0, 0, w, h);
    var left = 40, top = 4, bottom = 20;
    var cw = (w - left - 4) / 24, ch = (h - top - bottom) / 7;
    var max = 0;
    spec.values.forEach(function (row) { row.forEach(function (v) { if (v > max) max = v; }); });
    ctx.font = '11px sans-serif';
    ctx.textBaseline = 'middle';
    for (var d = 0; d < 7; d++) {
      ctx.fillStyle = '#555';
      ctx.textAlign = 'right';
      ctx.fillText(spec.rows[d], left - 6, top + d * ch + ch / 2);
      for (var hr = 0; hr < 24; hr++) {
        var v = spec.values[d][hr];
        var a = max ? v / max : 0;
        ctx.fillStyle = v ? 'rgba(217,83,79,' + (0.12 + 0.88 * a).toFixed(3) + ')' : '#f3f3f3';
        ctx.fillRect(left + hr * cw + 1, top + d * ch + 1, cw - 2, ch - 2);
      }
    }
    ctx.fillStyle = '#555';
    ctx.textAlign = 'center';
    for (var x = 0; x < 24; x += 3) ctx.fillText(spec.columns[x], left + x * cw + cw / 2, h - bottom / 2);
    canvas.setAttribute('data-drawn', '1');
  }

  function drawCharts(data) {
    var canvases = document.querySelectorAll('canvas[data-chart]');
    return withChart().then(function (Chart) {
      Chart.defaults.font.family = getComputedStyle(document.body).fontFamily;
      Chart.defaults.color = '#555';
      Array.prototype.forEach.call(canvases, function (canvas) {
        var name = canvas.getAttribute('data-chart');
        var kind = canvas.getAttribute('data-type');
        var spec = data[name];
        if (!spec) return;
        if (kind === 'heatmap') { drawHeatmap(canvas, spec); return; }
        if (charts[name]) {
          charts[name].data.labels = spec.labels;
          if (kind === 'doughnut') charts[name].data.datasets[0].backgroundColor = spec.keys.map(function (k) { return RESOLUTION_COLORS[k] || COLORS.teal; });
          spec.series.forEach(function (s, i) { charts[name].data.datasets[i].data = s.data; });
          charts[name].update();
        } else {
          charts[name] = new Chart(canvas, chartConfig(kind, spec));
        }
        canvas.setAttribute('data-drawn', '1');
      });
    });
  }

  function setKpis(kpis) {
    Array.prototype.forEach.call(document.querySelectorAll('[data-kpi]'), function (el) {
      var key = el.getAttribute('data-kpi');
      if (key === 'cleared') {
        while (el.firstChild) el.removeChild(el.firstChild);
        kpis.cleared.forEach(function (c) {
          var li = document.createElement('li');
          var label = document.createElement('span');
          label.textContent = c.label;
          var value = document.createElement('strong');
          value.textContent = c.value;
          li.appendChild(label);
          li.appendChild(document.createTextNode(' '));
          li.appendChild(value);
          el.appendChild(li);
        });
      } else if (key in kpis) {
        el.textContent = kpis[key];
      }
    });
  }

  function refreshDashboard() {
    var url = document.getElementById('smc-kpis').getAttribute('data-url');
    return send(url, 'GET').then(function (r) {
      if (r.status !== 200) return;
      setKpis(r.data.kpis);
      return drawCharts(r.data.charts);
    });
  }

  function refreshList() {
    var table = document.getElementById('smc-entries');
    return getText(table.getAttribute('data-rows-url')).then(function (html) {
      var holder = document.createElement('table');
      holder.innerHTML = html; // server-rendered, escaped by the templates
      var rows = holder.querySelector('tbody');
      var old = document.getElementById('smc-entry-rows');
      if (rows && old) old.parentNode.replaceChild(rows, old);
    });
  }

  /** The list's rows, or on an entry's page its claim box: what the entries view shows that others change. */
  function refreshEntryView() {
    if (document.getElementById('smc-entries')) return refreshList().then(watchClaimExpiry);
    if (document.getElementById('smc-claim')) return refreshClaim().then(watchClaimExpiry);
    return Promise.resolve();
  }

  function refreshClaim() {
    var box = document.getElementById('smc-claim');
    return getText(box.getAttribute('data-url')).then(function (html) {
      box.innerHTML = html; // server-rendered, escaped by the templates
    });
  }

  // A claim lapses by itself, with nothing written: the page looks again when the first shown one does.
  var expiryTimer = null;
  function watchClaimExpiry() {
    if (expiryTimer) clearTimeout(expiryTimer);
    expiryTimer = null;
    var soonest = null;
    Array.prototype.forEach.call(document.querySelectorAll('[data-expires-in]'), function (el) {
      var s = Number(el.getAttribute('data-expires-in'));
      if (soonest === null || s < soonest) soonest = s;
    });
    if (soonest !== null) expiryTimer = setTimeout(refreshEntryView, (soonest + 1) * 1000);
  }

  // ---- claims ("I'm calling back") ---------------------------------------------------------

  function claimAction(button) {
    var box = button.closest('.smc-claim');
    var error = box.querySelector('.smc-claim-error');
    var entryId = button.closest('[data-entry-id]').getAttribute('data-entry-id');
    var action = button.getAttribute('data-action');
    var body = {};
    var ext = document.getElementById('smc-callback-ext');
    if (ext && ext.value) body.ext = ext.value;
    if (action === 'take-over') {
      // The visible warning: taking over names whom it is taken from.
      if (!window.confirm(button.getAttribute('data-warning'))) return;
      body.takeOverFrom = button.getAttribute('data-holder');
    }
    button.disabled = true;
    error.textContent = '';
    send(button.getAttribute('data-url'), 'POST', action === 'release' ? undefined : body).then(function (r) {
      if (r.status === 409 && r.data.holder && action === 'claim') {
        // Someone was quicker: they are named, and the user may take it over.
        if (window.confirm(r.data.message)) {
          body.takeOverFrom = r.data.holder.user;
          return send(button.getAttribute('data-url'), 'POST', body);
        }
      }
      return r;
    }).then(function (r) {
      var message = r.status === 200 ? '' : (r.data && r.data.message) || ('HTTP ' + r.status);
      error.textContent = message;
      // The box is drawn again as it now is; a refusal stays written beside it.
      return refreshEntryView().then(function () {
        var shown = document.querySelector('[data-entry-id="' + entryId + '"] .smc-claim-error');
        if (shown) shown.textContent = message;
      });
    }, function () { button.disabled = false; });
  }

  function setupClaims() {
    document.addEventListener('click', function (ev) {
      var button = ev.target.closest && ev.target.closest('.smc-claim-action');
      if (!button) return;
      ev.preventDefault();
      claimAction(button);
    });
    watchClaimExpiry();
  }

  // ---- wallboard links (settings) ------------------------------------------------------------

  function setupWallboardLinks() {
    var form = document.getElementById('smc-wallboard-new');
    if (!form) return;
    form.addEventListener('submit', function (ev) {
      ev.preventDefault();
      var made = document.getElementById('smc-wallboard-made');
      made.hidden = true;
      send(form.getAttribute('data-url'), 'POST', { label: form.elements.label.value }).then(function (r) {
        if (r.status !== 200) { showErrors(form, r.data.errors || { label: r.data.message || ('HTTP ' + r.status) }); return; }
        showErrors(form, {});
        // Shown this once: only the token's hash is kept.
        document.getElementById('smc-wallboard-url').value = window.location.origin + r.data.path;
        document.getElementById('smc-wallboard-made-note').textContent = r.data.message;
        made.hidden = false;
      });
    });
    Array.prototype.forEach.call(document.querySelectorAll('.smc-wallboard-revoke'), function (button) {
      button.addEventListener('click', function () {
        button.disabled = true;
        send(button.getAttribute('data-url'), 'POST').then(function () { window.location.reload(); }, function () { button.disabled = false; });
      });
    });
  }

  // ---- live updates ---------------------------------------------------------------------

  function setHealth(ok) {
    var banner = document.getElementById('smc-health-banner');
    if (banner) banner.hidden = !!ok;
  }

  function listen(view) {
    if (!window.EventSource) return;
    var source = new EventSource(root().getAttribute('data-events'), { withCredentials: true });
    var pending = null;
    source.addEventListener('health', function (e) { setHealth(JSON.parse(e.data).ok); });
    source.addEventListener('changes', function () {
      // The first call: the page's explanation gives way to the figures.
      if (document.getElementById('smc-empty')) { window.location.reload(); return; }
      // Several commits in a burst: one refresh.
      if (pending) return;
      pending = setTimeout(function () {
        pending = null;
        if (view === 'dashboard') refreshDashboard();
        if (view === 'entries') refreshEntryView();
      }, 150);
    });
    var grown = 0;
    source.addEventListener('history', function (e) {
      var h = JSON.parse(e.data).history;
      showHistory(h);
      if (!h || h.calls === 0) return;
      if (document.getElementById('smc-empty')) { window.location.reload(); return; }
      // The figures grow as days are done: shown again every few seconds, and once at the end.
      if (h.running && Date.now() - grown < 3000) return;
      grown = Date.now();
      if (view === 'dashboard') refreshDashboard();
      if (view === 'entries') refreshEntryView();
    });
  }

  function showHistory(h) {
    var box = document.getElementById('smc-history');
    if (!box) return;
    box.hidden = !h;
    if (!h) return;
    document.getElementById('smc-history-running').hidden = !h.running;
    document.getElementById('smc-history-summary').hidden = h.running;
    document.getElementById('smc-history-text').textContent = h.text;
    document.getElementById('smc-history-eta').textContent = h.eta;
    document.getElementById('smc-history-note').textContent = h.note;
    document.getElementById('smc-history-percent').textContent = h.percentText;
    document.getElementById('smc-history-bar').value = h.percent;
    document.getElementById('smc-history-summary').textContent = h.summary;
  }

  function setupHistoryRequest() {
    var form = document.getElementById('smc-history-request');
    if (!form) return;
    form.addEventListener('submit', function (ev) {
      ev.preventDefault();
      var done = document.getElementById('smc-history-requested');
      done.textContent = '';
      send(form.getAttribute('data-url'), 'POST', { since: form.elements.since.value }).then(function (r) {
        if (r.status === 200) {
          showErrors(form, {});
          done.textContent = r.data.message;
        } else {
          showErrors(form, r.data.errors || { since: r.data.message || ('HTTP ' + r.status) });
        }
      });
    });
  }

  // ---- resolve ---------------------------------------------------------------------------

  function showErrors(form, errors) {
    Array.prototype.forEach.call(form.querySelectorAll('[data-error-for]'), function (el) {
      var msg = errors[el.getAttribute('data-error-for')] || '';
      el.textContent = msg;
      var group = el.closest('.form-group');
      if (group) group.classList.toggle('has-error', !!msg);
    });
  }

  function setupResolve() {
    var form = document.getElementById('smc-resolve');
    if (!form) return;
    form.addEventListener('submit', function (ev) {
      ev.preventDefault();
      var button = document.getElementById('smc-resolve-button');
      button.disabled = true;
      send(form.getAttribute('data-url'), 'POST', { note: form.elements.note.value }).then(function (r) {
        if (r.status === 200) { window.location.reload(); return; }
        button.disabled = false;
        showErrors(form, r.data.errors || { note: r.data.message || ('HTTP ' + r.status) });
      });
    });
  }

  function setupCallback() {
    var form = document.getElementById('smc-callback');
    if (!form) return;
    form.addEventListener('submit', function (ev) {
      ev.preventDefault();
      var button = document.getElementById('smc-callback-button');
      var done = document.getElementById('smc-callback-done');
      button.disabled = true;
      done.textContent = '';
      var body = { ext: form.elements.ext.value };
      send(form.getAttribute('data-url'), 'POST', body).then(function (r) {
        // Calling back claims the entry: someone else holding it is named first.
        if (r.status === 409 && r.data.holder && window.confirm(r.data.message)) {
          body.takeOverFrom = r.data.holder.user;
          return send(form.getAttribute('data-url'), 'POST', body);
        }
        return r;
      }).then(function (r) {
        button.disabled = false;
        refreshEntryView();
        if (r.status === 200) {
          showErrors(form, {});
          done.textContent = r.data.message;
        } else {
          showErrors(form, r.data.errors || { ext: r.data.message || ('HTTP ' + r.status) });
        }
      });
    });
  }

  // ---- health panel ----------------------------------------------------------------------

  /** "Check again": the service runs every check now; the page is then shown again with the new results. */
  function setupHealth() {
    var button = document.getElementById('smc-health-recheck');
    if (!button) return;
    button.addEventListener('click', function () {
      button.disabled = true;
      send(button.getAttribute('data-url'), 'POST').then(function () { window.location.reload(); }, function () { button.disabled = false; });
    });
  }

  // ---- settings --------------------------------------------------------------------------

  function setupSettings() {
    var form = document.getElementById('smc-settings');
    if (!form) return;
    form.addEventListener('submit', function (ev) {
      ev.preventDefault();
      var body = {};
      ['cadence', 'recipients', 'realtimeDedupeMinutes', 'maxEmailsPerHour', 'retentionDays', 'queueAbandonMinWait',
        'defaultCountry', 'outboundPrefixes', 'matchDigits', 'timezone', 'language', 'lookupUrlTemplate', 'historyDays', 'claimMinutes',
        'callbackTargetMinutes', 'businessHours', 'callbackTargetRoutes', 'escalationThresholds', 'escalationRecipients', 'lampScope'].forEach(function (name) {
        body[name] = form.elements[name].value;
      });
      ['clearAcrossDids', 'clearAcrossPbxs', 'countIvrAbandon', 'lampEnabled'].forEach(function (name) {
        body[name] = form.elements[name].checked;
      });
      body.webhooks = Array.prototype.map.call(form.querySelectorAll('tr[data-webhook]'), function (row) {
        // The secret input starts empty: empty with a ref keeps the stored secret.
        var ref = row.getAttribute('data-ref');
        return {
          ref: ref === null ? undefined : Number(ref),
          url: row.querySelector('[name="webhook-url"]').value,
          secret: row.querySelector('[name="webhook-secret"]').value,
          events: Array.prototype.filter.call(row.querySelectorAll('[name="webhook-event"]'), function (c) { return c.checked; })
            .map(function (c) { return c.value; }),
        };
      });
      if (form.elements['crm-kind']) body.crm = crmOf(form);
      var saved = document.getElementById('smc-saved');
      var formError = document.getElementById('smc-form-error');
      saved.textContent = '';
      formError.textContent = '';
      send(form.getAttribute('data-url'), 'POST', body).then(function (r) {
        if (r.status === 200) {
          showErrors(form, {});
          saved.textContent = r.data.message;
        } else {
          showErrors(form, r.data.errors || {});
          if (!r.data.errors) formError.textContent = r.data.message || ('HTTP ' + r.status);
        }
      });
    });
  }

  /** The CRM block as the settings API takes it; an empty token (or secret) keeps the stored one. */
  function crmOf(form) {
    var crm = {
      kind: form.elements['crm-kind'].value,
      baseUrl: form.elements['crm-baseUrl'].value,
      token: form.elements['crm-token'].value,
      createContact: form.elements['crm-createContact'].checked,
      database: form.elements['crm-database'] ? form.elements['crm-database'].value : undefined,
      login: form.elements['crm-login'] ? form.elements['crm-login'].value : undefined,
    };
    if (crm.kind === 'salesforce') {
      crm.clientId = form.elements['crm-clientId'].value;
      crm.clientSecret = form.elements['crm-clientSecret'].value;
    }
    return crm;
  }

  /** Fields only one CRM has are shown when that CRM is chosen. */
  function setupCrmKind() {
    var select = document.getElementById('smc-crm.kind');
    if (!select) return;
    var show = function () {
      Array.prototype.forEach.call(document.querySelectorAll('[data-crm-only]'), function (el) {
        el.hidden = el.getAttribute('data-crm-only') !== select.value;
      });
    };
    select.addEventListener('change', show);
    show();
  }

  function setupCrmTest() {
    var form = document.getElementById('smc-settings');
    var button = document.getElementById('smc-crm-test');
    if (!form || !button) return;
    var result = document.getElementById('smc-crm-test-result');
    button.addEventListener('click', function () {
      button.disabled = true;
      result.textContent = '';
      result.className = '';
      send(document.getElementById('smc-crm').getAttribute('data-test-url'), 'POST', { crm: crmOf(form) }).then(function (r) {
        button.disabled = false;
        if (r.status === 200) {
          showErrors(form, {});
          result.className = r.data.ok ? 'text-success' : 'text-danger';
          result.textContent = r.data.message;
        } else {
          showErrors(form, r.data.errors || {});
          result.className = 'text-danger';
          if (!r.data.errors) result.textContent = r.data.message || ('HTTP ' + r.status);
        }
      }, function () { button.disabled = false; });
    });
  }

  // ---- calculator ------------------------------------------------------------------------

  function setupCalculator() {
    var form = document.getElementById('smc-calculator');
    if (!form) return;
    var locale = form.getAttribute('data-locale');
    var days = Number(form.getAttribute('data-days'));
    var money = new Intl.NumberFormat(locale, { maximumFractionDigits: 0 });
    var whole = new Intl.NumberFormat(locale);
    function value(name) {
      var v = Number(String(form.elements[name].value).replace(',', '.'));
      return isFinite(v) && v > 0 ? v : 0;
    }
    function update() {
      var missed = value('calls') * days * value('loss') / 100;
      var lost = missed * value('conversion') / 100 * value('value');
      document.getElementById('smc-calc-lost').textContent = money.format(lost);
      document.getElementById('smc-calc-recoverable').textContent = money.format(lost * value('recovery') / 100);
      var line = document.getElementById('smc-calc-missed');
      line.textContent = line.getAttribute('data-template').replace('{missed}', whole.format(Math.round(missed)));
    }
    form.addEventListener('input', update);
    form.addEventListener('submit', function (ev) { ev.preventDefault(); update(); });
  }

  function start() {
    var r = root();
    if (!r) return;
    var view = r.getAttribute('data-view');
    if (view === 'dashboard') {
      var data = document.getElementById('smc-dashboard-data');
      if (data) drawCharts(JSON.parse(data.textContent));
    }
    if (view === 'dashboard' || view === 'entries') listen(view);
    setupResolve();
    setupCallback();
    setupClaims();
    setupWallboardLinks();
    setupSettings();
    setupCrmTest();
    setupCrmKind();
    setupHealth();
    setupHistoryRequest();
    setupCalculator();
  }

  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', start);
  else start();
})();
