// app.js -- the operators' web view: polls the handler's JSON API and draws four views from it.
//
// Served by boardhook-handler from its own binary (web/ is compiled in), under /boardhook/.
// The pages show customers' personal data and strings anyone could send (an event type, a
// command's stderr), so every piece of data reaches the DOM as text: through textContent, text
// nodes and a short list of attributes that never run anything (el() below refuses others).
// Nothing is ever parsed as HTML. No library, no build step.
'use strict';

(() => {
  const VIEWS = ['overview', 'workers', 'dead', 'rejected'];
  const HISTORY_MS = 5 * 60 * 1000;   // the chart's window, kept in this page only
  const DEAD_LIMIT = 100;
  const REJECTED_LIMIT = 100;

  const state = {
    view: 'overview',
    deadType: '',          // the type the dead-letter view shows
    overview: null,        // the last /api/overview answer
    rates: new Map(),      // type -> {in, done} per second, between the last two snapshots
    history: [],           // [{t, in, done}] summed over types, for the chart
    dead: null,            // the last /api/dead answer (for state.deadType)
    deadText: '',          // its text, so an unchanged answer does not rebuild the table
    rejected: null,
    rejectedText: '',
    openDetails: new Set(),// dead letters whose envelope the operator opened
    refreshMs: 3000,
    timer: 0,
    generation: 0,         // the newest refresh; an older one that finishes late is ignored
    failure: '',           // why the last refresh failed ('' when it did not)
    updatedAt: 0,
  };

  // ---- building the DOM, as text only -----------------------------------------------------

  // Attributes that only ever hold text: none of them loads or runs anything. `href` is
  // further limited to this page's own #fragments.
  const SAFE_ATTRIBUTES = new Set(['class', 'title', 'href', 'colspan', 'scope', 'datetime', 'role',
    'aria-label', 'aria-current', 'data-view', 'data-col', 'type']);

  function el(tag, attributes, ...children) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attributes || {})) {
      if (value === null || value === undefined || value === false) continue;
      if (!SAFE_ATTRIBUTES.has(name)) throw new Error(`el(): attribute ${name} is not allowed`);
      if (name === 'href' && !String(value).startsWith('#')) throw new Error('el(): only #fragment links');
      node.setAttribute(name, String(value));
    }
    append(node, children);
    return node;
  }

  function append(node, children) {
    for (const child of children.flat(Infinity)) {
      if (child === null || child === undefined || child === false) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }

  function replaceChildren(node, ...children) {
    node.replaceChildren();
    return append(node, children);
  }

  const $ = (id) => document.getElementById(id);

  function table(target, columns, rows, emptyText) {
    // columns: [{label, cls}] ('wide': a column narrow windows leave out); rows: arrays of cell contents, or {cells, cls, after} where
    // `after` is an extra full-width row (the dead letters' details).
    const head = el('thead', null, el('tr', null, columns.map((c) => el('th', { scope: 'col', class: c.cls }, c.label))));
    const body = el('tbody');
    for (const row of rows) {
      const spec = Array.isArray(row) ? { cells: row } : row;
      body.append(el('tr', { class: spec.cls }, spec.cells.map((cell, i) => el('td', { class: columns[i].cls, 'data-col': columns[i].label }, cell))));
      if (spec.after) body.append(el('tr', { class: 'detail-row' }, el('td', { colspan: columns.length }, spec.after)));
    }
    if (rows.length === 0) body.append(el('tr', { class: 'empty-row' }, el('td', { colspan: columns.length }, emptyText)));
    replaceChildren(target, head, body);
  }

  // ---- formatting ----------------------------------------------------------------------

  const numberFormat = new Intl.NumberFormat('en-US');

  function count(n) {
    return n === null || n === undefined ? '–' : numberFormat.format(n);
  }

  function rate(r) {
    if (r === null || r === undefined) return '–';
    if (r === 0) return '0';
    if (r < 10) return r.toFixed(1);
    return numberFormat.format(Math.round(r));
  }

  function age(ms) {
    if (ms === null || ms === undefined) return '–';
    if (ms < 1000) return `${Math.max(0, Math.round(ms))} ms`;
    const s = Math.floor(ms / 1000);
    if (s < 60) return `${s} s`;
    if (s < 3600) return `${Math.floor(s / 60)} min ${s % 60} s`;
    if (s < 86400) return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
    return `${Math.floor(s / 86400)} d ${Math.floor((s % 86400) / 3600)} h`;
  }

  function bytes(n) {
    if (n === null || n === undefined) return '–';
    if (n < 1024) return `${n} B`;
    if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
    return `${(n / 1024 / 1024).toFixed(1)} MiB`;
  }

  const pad = (n) => String(n).padStart(2, '0');

  // A time the API gives (RFC 3339 text or Unix ms) as local date and time, its exact value in
  // the tooltip, and how long ago it was by the server's clock.
  function when(value, withAge = true) {
    if (value === null || value === undefined || value === '') return '–';
    const date = new Date(value);
    if (Number.isNaN(date.getTime())) return String(value);
    const local = `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())} ` +
                  `${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}`;
    const now = state.overview ? state.overview.stats.at_ms : Date.now();
    return el('time', { datetime: date.toISOString(), title: date.toISOString() },
      local, withAge ? el('span', { class: 'ago' }, ` ${age(now - date.getTime())} ago`) : null);
  }

  function badge(text, kind, title) {
    return el('span', { class: `badge ${kind}`, title }, text);
  }

  function shortId(id) {
    if (!id) return '–';
    return el('span', { class: 'mono', title: id }, id.length > 12 ? `${id.slice(0, 12)}…` : id);
  }

  // ---- talking to the handler ----------------------------------------------------------

  async function getJSON(path) {
    const response = await fetch(path, { cache: 'no-store', credentials: 'same-origin', headers: { Accept: 'application/json' } });
    const text = await response.text();
    if (!response.ok) throw new Error(`${path}: HTTP ${response.status} ${errorOf(text)}`);
    return { json: JSON.parse(text), text };
  }

  function errorOf(text) {
    try {
      const body = JSON.parse(text);
      return [body.error, body.detail].filter(Boolean).join(': ');
    } catch (_) {
      return '';
    }
  }

  function csrfToken() {
    for (const pair of document.cookie.split(';')) {
      const [name, ...rest] = pair.trim().split('=');
      if (name === 'boardhook_csrf') return rest.join('=');
    }
    return '';
  }

  // One action: ask, POST JSON with the page's CSRF token, say what happened, refresh.
  async function act(question, path, body, describe) {
    if (!window.confirm(question)) return;
    try {
      const response = await fetch(path, {
        method: 'POST',
        cache: 'no-store',
        credentials: 'same-origin',
        headers: { 'Content-Type': 'application/json', 'X-CSRF-Token': csrfToken(), Accept: 'application/json' },
        body: JSON.stringify(body),
      });
      const text = await response.text();
      if (response.ok) flash(describe(JSON.parse(text)), 'ok');
      else flash(`Not done (HTTP ${response.status}): ${errorOf(text) || 'no reason given'}`, 'error');
    } catch (error) {
      flash(`Not done: ${error.message}`, 'error');
    }
    state.deadText = state.rejectedText = '';   // redraw even if the answer looks the same
    refresh();
  }

  let flashTimer = 0;
  function flash(text, kind) {
    const box = $('flash');
    box.textContent = text;
    box.className = `flash ${kind}`;
    box.hidden = false;
    clearTimeout(flashTimer);
    flashTimer = setTimeout(() => { box.hidden = true; }, 8000);
  }

  // ---- the refresh loop ----------------------------------------------------------------

  async function refresh() {
    clearTimeout(state.timer);
    const generation = ++state.generation;
    const view = state.view;
    try {
      const overview = await getJSON('api/overview');
      if (generation !== state.generation) return;
      takeOverview(overview.json);
      if (view === 'dead') {
        chooseDeadType();
        if (state.deadType) {
          const dead = await getJSON(`api/dead?type=${encodeURIComponent(state.deadType)}&limit=${DEAD_LIMIT}`);
          if (generation !== state.generation) return;
          if (dead.text !== state.deadText) state.dead = dead.json;
        }
      } else if (view === 'rejected') {
        const rejected = await getJSON(`api/rejected?limit=${REJECTED_LIMIT}`);
        if (generation !== state.generation) return;
        if (rejected.text !== state.rejectedText) state.rejected = rejected.json;
      }
      state.failure = '';
      state.updatedAt = Date.now();
    } catch (error) {
      if (generation !== state.generation) return;
      state.failure = error.message;
    }
    render();
    state.timer = setTimeout(refresh, state.refreshMs);
  }

  // Rates come from successive running totals (the same counters every handler and worker
  // increments), over the time between the two snapshots as Redis's clock tells it.
  function takeOverview(overview) {
    const before = state.overview;
    state.overview = overview;
    state.refreshMs = Math.max(1, overview.refresh_seconds || 3) * 1000;
    if (!before || overview.stats.at_ms <= before.stats.at_ms) return;
    const seconds = (overview.stats.at_ms - before.stats.at_ms) / 1000;
    const previous = new Map(before.stats.types.map((t) => [t.type, t.totals]));
    let sumIn = 0;
    let sumDone = 0;
    state.rates = new Map();
    for (const row of overview.stats.types) {
      const old = previous.get(row.type) || { queued: 0, done: 0 };
      const perSecond = (now, then) => (now >= then ? (now - then) / seconds : null);   // a reset counter: unknown
      const rates = { in: perSecond(row.totals.queued, old.queued), done: perSecond(row.totals.done, old.done) };
      state.rates.set(row.type, rates);
      sumIn += rates.in || 0;
      sumDone += rates.done || 0;
    }
    state.history.push({ t: overview.stats.at_ms, in: sumIn, done: sumDone });
    const oldest = overview.stats.at_ms - HISTORY_MS;
    while (state.history.length && state.history[0].t < oldest) state.history.shift();
  }

  function chooseDeadType() {
    const types = state.overview.stats.types;
    if (state.deadType) return;
    const withDead = types.find((t) => t.dead > 0) || types[0];
    if (!withDead) return;
    state.deadType = withDead.type;
    history.replaceState(null, '', `#dead/${encodeURIComponent(state.deadType)}`);
  }

  // ---- routing -------------------------------------------------------------------------

  function readHash() {
    const [view, ...rest] = location.hash.replace(/^#/, '').split('/');
    state.view = VIEWS.includes(view) ? view : 'overview';
    if (state.view === 'dead') {
      let type = '';
      try { type = decodeURIComponent(rest.join('/')); } catch (_) { type = ''; }
      if (type !== state.deadType) {
        state.deadType = type;
        state.dead = null;
        state.deadText = '';
      }
    }
  }

  // ---- drawing -------------------------------------------------------------------------

  function render() {
    for (const section of document.querySelectorAll('section.view')) section.hidden = section.dataset.view !== state.view;
    for (const link of document.querySelectorAll('nav.tabs a')) {
      if (link.dataset.view === state.view) link.setAttribute('aria-current', 'page');
      else link.removeAttribute('aria-current');
    }
    renderStatus();
    if (!state.overview) return;
    const draw = { overview: renderOverview, workers: renderWorkers, dead: renderDead, rejected: renderRejected };
    draw[state.view]();
  }

  function renderStatus() {
    const banner = $('banner');
    banner.hidden = !state.failure;
    if (state.failure) {
      banner.textContent = `The handler did not answer (${state.failure}). Trying again every ${state.refreshMs / 1000} s` +
        (state.updatedAt ? `; what you see is from ${new Date(state.updatedAt).toLocaleTimeString()}.` : '.');
    }
    $('updated').textContent = state.updatedAt ? `updated ${new Date(state.updatedAt).toLocaleTimeString()}` : 'loading…';
    if (!state.overview) return;
    const health = state.overview.health || {};
    const status = health.status || 'unknown';
    const pill = $('health');
    pill.textContent = status === 'ok' ? 'healthy' : status;
    pill.className = `pill ${status === 'ok' ? 'ok' : status === 'degraded' ? 'warn' : 'bad'}`;
    pill.title = `redis: ${health.redis || '?'}; spool: ${health.spool || '?'}`;
    const actions = $('actions-state');
    actions.hidden = false;
    actions.textContent = state.overview.actions ? 'actions on' : 'read-only';
    actions.className = `pill ${state.overview.actions ? 'warn' : 'muted'}`;
    actions.title = state.overview.actions ? 'BOARDHOOK_WEB_ACTIONS=on: requeue, purge and replay are available'
                                           : 'BOARDHOOK_WEB_ACTIONS is off: this view changes nothing';
  }

  function sum(rows, field) {
    return rows.reduce((total, row) => total + (row[field] || 0), 0);
  }

  function card(label, value, sub, kind) {
    return el('div', { class: `card ${kind || ''}` },
      el('div', { class: 'card-label' }, label),
      el('div', { class: 'card-value' }, value),
      el('div', { class: 'card-sub' }, sub || ''));
  }

  function renderOverview() {
    const { stats, health } = state.overview;
    const types = stats.types;
    const alive = stats.workers.filter((w) => w.alive).length;
    const oldest = types.reduce((max, t) => (t.oldest_age_ms !== null && t.oldest_age_ms > max ? t.oldest_age_ms : max), -1);
    const spool = stats.spool;
    replaceChildren($('cards'),
      card('Queued', count(sum(types, 'queued')), oldest >= 0 ? `oldest ${age(oldest)}` : 'nothing waiting'),
      card('Processing', count(sum(types, 'processing')), `${count(alive)} of ${count(stats.workers.length)} workers alive`,
           stats.workers.length > 0 && alive === 0 ? 'bad' : ''),
      card('Retrying', count(sum(types, 'retry')), 'waiting for a retry', sum(types, 'retry') > 0 ? 'warn' : ''),
      card('Dead', count(sum(types, 'dead')), 'failed every attempt', sum(types, 'dead') > 0 ? 'bad' : ''),
      card('Rejected', count(stats.rejected), 'refused, kept'),
      card('Spool', spool ? count(spool.records) : 'off',
           spool ? (spool.records > 0 ? `oldest ${age(spool.oldest_age_ms)}` : 'empty') : 'no spool folder',
           spool && spool.records > 0 ? 'warn' : ''));

    table($('types-table'), [
      { label: 'Event type', cls: 'type' }, { label: 'Queued', cls: 'num' }, { label: 'Processing', cls: 'num' },
      { label: 'Retrying', cls: 'num' }, { label: 'Dead', cls: 'num' }, { label: 'Oldest', cls: 'num' },
      { label: 'In/s', cls: 'num' }, { label: 'Done/s', cls: 'num' },
    ], types.map((t) => {
      const r = state.rates.get(t.type) || {};
      return [
        [el('span', { class: 'type-name' }, t.type),
         t.paused ? badge('paused', 'warn note', 'boardhook-queues pause: workers take none of these until resumed') : null],
        count(t.queued),
        count(t.processing),
        t.retry > 0 ? el('span', { class: 'warn-text' }, count(t.retry)) : count(t.retry),
        t.dead > 0 ? el('a', { href: `#dead/${encodeURIComponent(t.type)}`, class: 'bad-text', title: 'Show these dead letters' }, count(t.dead))
                   : count(t.dead),
        age(t.oldest_age_ms),
        rate(r.in),
        rate(r.done),
      ];
    }), 'No event type has been queued yet.');

    drawChart();

    const facts = (target, pairs) => replaceChildren(target, pairs.map(([term, value]) => [el('dt', null, term), el('dd', null, value)]));
    const status = health ? health.status : 'unknown';
    facts($('handler-facts'), [
      ['Health', badge(status, status === 'ok' ? 'ok' : status === 'degraded' ? 'warn' : 'bad')],
      ['Redis', health ? health.redis : '–'],
      ['Spool', health ? health.spool : '–'],
      ['Spool depth', spool ? `${count(spool.records)} records in ${count(spool.segments)} segments, ${bytes(spool.bytes)}` : 'no spool folder'],
      ['Spool oldest', spool ? age(spool.oldest_age_ms) : '–'],
      ['Actions', state.overview.actions ? 'on' : 'off (read-only)'],
      ['Snapshot', when(stats.at_ms, false)],
    ]);
    const redis = state.overview.redis || {};
    facts($('redis-facts'), [
      ['Mode', redis.mode || '–'],
      ['Primary', el('span', { class: 'mono' }, redis.primary || '–')],
      ['Sentinels', redis.sentinels && redis.sentinels.length
        ? el('ul', { class: 'plain' }, redis.sentinels.map((s) => el('li', { class: 'mono' }, s))) : 'none'],
    ]);
  }

  // The in/done rates of the last five minutes, as an SVG drawn to the panel's width.
  function drawChart() {
    const box = $('chart');
    const NS = 'http://www.w3.org/2000/svg';
    const svgEl = (tag, attributes, text) => {
      const node = document.createElementNS(NS, tag);
      for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, String(value));
      if (text !== undefined) node.textContent = text;
      return node;
    };
    const width = Math.max(280, (box.clientWidth || 600) - 24);   // .chart's padding
    const height = 180;
    const m = { left: 44, right: 14, top: 12, bottom: 24 };
    const points = state.history;
    const end = state.overview.stats.at_ms;
    // Up to five minutes: until the page has seen that much, the chart spans what it has.
    const span = Math.min(HISTORY_MS, Math.max(30000, points.length ? end - points[0].t : 0));
    const start = end - span;
    const tick = niceStep(Math.max(0.4, ...points.map((p) => Math.max(p.in, p.done))) / 4);
    const top = tick * 4;
    const x = (t) => m.left + ((t - start) / span) * (width - m.left - m.right);
    const y = (v) => m.top + (1 - v / top) * (height - m.top - m.bottom);

    const svg = svgEl('svg', { viewBox: `0 0 ${width} ${height}`, width, height, role: 'img', 'aria-label': 'events in and done per second' });
    for (let i = 0; i <= 4; i += 1) {
      const value = tick * i;
      svg.append(svgEl('line', { x1: m.left, x2: width - m.right, y1: y(value), y2: y(value), class: 'grid-line' }));
      svg.append(svgEl('text', { x: m.left - 6, y: y(value) + 4, class: 'axis-label', 'text-anchor': 'end' }, String(Number(value.toFixed(3)))));
    }
    const step = [5000, 10000, 15000, 30000, 60000].find((s) => span / s <= 6) || 60000;
    for (let back = 0; back <= span; back += step) {
      const label = back === 0 ? 'now' : back % 60000 === 0 ? `−${back / 60000} min` : `−${back / 1000} s`;
      svg.append(svgEl('text', { x: x(end - back), y: height - 6, class: 'axis-label',
        'text-anchor': back === 0 ? 'end' : back + step > span ? 'start' : 'middle' }, label));
    }
    if (points.length < 2) {
      svg.append(svgEl('text', { x: width / 2, y: height / 2, class: 'chart-note', 'text-anchor': 'middle' },
        `collecting: a point every ${state.refreshMs / 1000} s`));
    }
    for (const series of ['in', 'done']) {
      if (points.length === 0) continue;
      const coordinates = points.map((p) => `${x(p.t).toFixed(1)},${y(p[series]).toFixed(1)}`).join(' ');
      const floor = `${x(points[points.length - 1].t).toFixed(1)},${y(0)} ${x(points[0].t).toFixed(1)},${y(0)}`;
      svg.append(svgEl('polygon', { points: `${coordinates} ${floor}`, class: `area ${series}` }));
      svg.append(svgEl('polyline', { points: coordinates, class: `series ${series}` }));
      const last = points[points.length - 1];
      svg.append(svgEl('circle', { cx: x(last.t), cy: y(last[series]), r: 3, class: `dot ${series}` }));
    }
    box.replaceChildren(svg);
  }

  // The chart's grid step: the smallest round number (1, 2, 2.5, 3, 4 or 5 times a power of ten)
  // at least `value`, so that four steps hold the highest point without much room to spare.
  function niceStep(value) {
    const magnitude = 10 ** Math.floor(Math.log10(value));
    return [1, 2, 2.5, 3, 4, 5, 10].map((f) => f * magnitude).find((step) => step >= value * 0.999999);
  }

  function renderWorkers() {
    const workers = state.overview.stats.workers;
    const alive = workers.filter((w) => w.alive).length;
    $('workers-hint').textContent = `${alive} alive of ${workers.length} registered`;
    table($('workers-table'), [
      { label: 'Worker' }, { label: 'State' }, { label: 'Last heartbeat' }, { label: 'Host', cls: 'wide' }, { label: 'PID', cls: 'num wide' },
      { label: 'Started', cls: 'wide' }, { label: 'Types' }, { label: 'Consumers', cls: 'num' }, { label: 'Running', cls: 'num' },
    ], workers.map((w) => [
      el('span', { class: 'mono' }, w.id),
      w.alive ? badge('alive', 'ok') : badge('no heartbeat', 'bad', 'its jobs go back to their queues after the heartbeat timeout'),
      w.last_heartbeat_ms === null ? '–' : when(w.last_heartbeat_ms),
      el('span', { class: 'nowrap' }, w.host || '–'),
      w.pid === undefined ? '–' : String(w.pid),
      w.started_at ? when(w.started_at) : '–',
      (w.types || []).length ? el('span', { class: 'chips' }, w.types.map((t) => typeChip(t, (w.circuits || {})[t]))) : '–',
      w.consumers === undefined ? '–' : count(w.consumers),
      count(w.running),
    ]), 'No worker has registered with this Redis.');

    const jobs = workers.flatMap((w) => (w.jobs || []).map((job) => ({ ...job, alive: w.alive })));
    table($('jobs-table'), [
      { label: 'Consumer' }, { label: 'Event type' }, { label: 'Ticket' }, { label: 'Event' }, { label: 'Received' },
    ], jobs.map((job) => ({
      cls: job.alive ? '' : 'stale',
      cells: [
        el('span', { class: 'mono' }, job.consumer),
        job.event_type || '–',
        job.ticket_id === null || job.ticket_id === undefined || job.ticket_id === '' ? '–' : String(job.ticket_id),
        shortId(job.event_id),
        job.received_at ? when(job.received_at) : '–',
      ],
    })), 'No consumer is running a job.');
  }

  // A type a worker serves; its destination's circuit when it is not closed ("open", "half-open").
  function typeChip(type, circuit) {
    if (!circuit) return el('span', { class: 'chip' }, type);
    return el('span', { class: `chip circuit-${circuit === 'open' ? 'open' : 'half'}`, title: `circuit ${circuit}: its destination has been failing` },
      type, el('span', { class: 'note' }, ` · circuit ${circuit}`));
  }

  function renderDead() {
    const types = state.overview.stats.types;
    const select = $('dead-type');
    const options = types.map((t) => {
      const option = el('option', null, `${t.type} (${count(t.dead)})`);
      option.value = t.type;
      return option;
    });
    replaceChildren(select, options);
    select.value = state.deadType;

    const row = types.find((t) => t.type === state.deadType);
    const toolbar = $('dead-toolbar');
    replaceChildren(toolbar);
    if (state.overview.actions && row && row.dead > 0) {
      toolbar.append(
        button(`Requeue all (${count(row.dead)})`, 'primary', () => act(
          `Put all ${row.dead} dead letters of "${row.type}" back in their queue?`,
          'api/requeue', { type: row.type }, (a) => `Requeued ${a.requeued} of "${row.type}".`)),
        button('Purge all', 'danger', () => act(
          `Delete all ${row.dead} dead letters of "${row.type}" for good?`,
          'api/purge-dead', { type: row.type }, (a) => `Purged ${a.purged} dead letters of "${row.type}".`)));
    }

    const target = $('dead-table');
    if (!state.deadType) {
      table(target, [{ label: 'Dead letters' }], [], 'No event type has been queued yet.');
      return;
    }
    if (!state.dead || state.dead.type !== state.deadType) {   // its answer is on its way
      state.deadText = '';
      table(target, [{ label: 'Dead letters' }], [], `Loading the dead letters of ${state.deadType}…`);
      return;
    }
    const text = JSON.stringify(state.dead) + state.overview.actions;
    if (text === state.deadText) return;   // unchanged: keep the operator's open details as they are
    state.deadText = text;

    const columns = [
      { label: 'Failed' }, { label: 'Event' }, { label: 'Ticket', cls: 'num' }, { label: 'Attempts', cls: 'num' },
      { label: 'Exit' }, { label: 'Error', cls: 'error' }, { label: 'Worker', cls: 'wide' },
    ];
    if (state.overview.actions) columns.push({ label: '', cls: 'actions' });
    const rows = state.dead.dead.map((d) => {
      const key = `${d.event_id}|${d.failed_at}`;
      const cells = [
        when(d.failed_at),
        shortId(d.event_id),
        d.ticket_id === null ? '–' : String(d.ticket_id),
        count(d.attempts),
        exitOf(d),
        [el('div', { class: 'error-text' }, d.error || '–'),
         lastLine(d.stderr_tail) ? el('div', { class: 'stderr-line mono' }, lastLine(d.stderr_tail)) : null],
        el('span', { class: 'mono small' }, d.worker || '–'),
      ];
      if (state.overview.actions) {
        cells.push(button('Requeue', 'small', () => act(
          `Put this dead letter of "${state.deadType}" back in its queue?`,
          'api/requeue', { type: state.deadType, id: d.event_id }, (a) => `Requeued ${a.requeued}.`)));
      }
      const details = el('details', null,
        el('summary', null, 'stderr and envelope'),
        el('div', { class: 'detail-grid' },
          el('div', null, el('h3', null, 'stderr (last 4 KiB)'), el('pre', { class: 'stderr' }, d.stderr_tail || '(empty)')),
          el('div', null, el('h3', null, 'Envelope'), el('pre', { class: 'envelope' }, JSON.stringify(d.envelope, null, 2)))));
      details.open = state.openDetails.has(key);
      details.addEventListener('toggle', () => {
        if (details.open) state.openDetails.add(key);
        else state.openDetails.delete(key);
      });
      return { cells, after: details };
    });
    table(target, columns, rows, `No dead letters for ${state.deadType}.`);
    if (row && row.dead > state.dead.dead.length) {
      target.querySelector('tbody').append(el('tr', { class: 'empty-row' },
        el('td', { colspan: columns.length }, `Showing the newest ${state.dead.dead.length} of ${count(row.dead)}.`)));
    }
  }

  function exitOf(d) {
    if (d.timed_out) return badge('timed out', 'warn');
    if (d.signal !== null && d.signal !== undefined) return badge(`signal ${d.signal}`, 'bad');
    if (d.exit_code !== null && d.exit_code !== undefined) return badge(`exit ${d.exit_code}`, 'bad');
    if (d.http_status !== null && d.http_status !== undefined) return badge(`HTTP ${d.http_status}`, 'bad');
    return '–';
  }

  function lastLine(text) {
    const lines = (text || '').split('\n').map((l) => l.trim()).filter(Boolean);
    return lines.length ? lines[lines.length - 1] : '';
  }

  function button(label, kind, onClick) {
    const node = el('button', { type: 'button', class: `btn ${kind}` }, label);
    node.addEventListener('click', onClick);
    return node;
  }

  function renderRejected() {
    if (!state.rejected) return;
    const text = JSON.stringify(state.rejected) + state.overview.actions;
    if (text === state.rejectedText) return;
    state.rejectedText = text;
    const columns = [
      { label: 'When' }, { label: 'Status', cls: 'num wide' }, { label: 'Reason' }, { label: 'Detail', cls: 'detail' },
      { label: 'Request id' }, { label: 'Size', cls: 'num' }, { label: 'Replayable', cls: 'actions' },
    ];
    table($('rejected-table'), columns, state.rejected.rejected.map((r) => [
      when(r.at),
      String(r.status),
      el('span', { class: 'reason' }, r.reason),
      r.detail || '–',
      el('span', { class: 'mono' }, r.request_id),
      [bytes(r.body_bytes), r.body_truncated ? el('div', { class: 'ago' }, 'first 64 KiB kept') : null],
      r.replayable
        ? [badge('yes', 'ok'), state.overview.actions ? button('Replay', 'small', () => act(
          `Check request ${r.request_id} again and queue its events if it passes now?`,
          'api/replay-rejected', { request_id: r.request_id }, (a) => `Replayed: ${a.stored} events queued.`)) : null]
        : badge('no', 'muted', r.body_truncated ? 'only part of the body was kept' : 'refused for who sent it, not for what'),
    ]), 'No refused request is kept.');
  }

  // ---- start ---------------------------------------------------------------------------

  $('dead-type').addEventListener('change', (event) => {
    location.hash = `#dead/${encodeURIComponent(event.target.value)}`;
  });
  window.addEventListener('hashchange', () => {
    readHash();
    render();
    refresh();
  });
  let resizeTimer = 0;
  window.addEventListener('resize', () => {
    clearTimeout(resizeTimer);
    resizeTimer = setTimeout(() => { if (state.view === 'overview' && state.overview) drawChart(); }, 150);
  });
  readHash();
  render();
  refresh();
})();
