// Lanes dashboard. Hand-written, no framework: it reads /api/state, follows /api/events and re-reads the state on
// each change, and turns every action into a POST. It runs under the server's CSP (default-src 'self'), so nothing
// here is inline, and everything the lead says is put on the page as text nodes, never parsed as HTML: a task's
// title or an agent's question is data an agent wrote.
'use strict';

(function () {
  const TOKEN_KEY = 'lanes-token';
  const RUNNING = new Set(['RUNNING', 'REVIEWING']);
  const FINAL = new Set(['LANDED', 'FAILED', 'SKIPPED', 'PARKED']);
  const ROUTES = {
    'cancel-task': (run, task) => taskPath(run, task, 'cancel'),
    'retry': (run, task) => taskPath(run, task, 'retry'),
    'answer': (run, task) => taskPath(run, task, 'answer'),
    'approve': (run, task) => taskPath(run, task, 'approve'),
    'cancel-run': (run) => runPath(run, 'cancel'),
    'pause': (run) => runPath(run, 'pause'),
    'resume': (run) => runPath(run, 'resume'),
    'raise-budget': (run) => runPath(run, 'budget'),
    'dismiss': () => '/api/inbox/dismiss',
  };
  const LABELS = {
    'cancel-task': 'Cancel', 'retry': 'Retry', 'answer': 'Send answer', 'approve': 'Approve',
    'cancel-run': 'Cancel run', 'pause': 'Pause', 'resume': 'Resume', 'raise-budget': 'Raise budget',
    'dismiss': 'Dismiss',
  };

  const token = takeToken();
  let state = null;
  let fetchedAt = 0;
  let lastEventId = null;
  let refreshing = false;
  let again = false;
  let timer = null;
  let stopped = false;
  /** What the person typed (answers, budgets), by input key, so that a re-render does not lose it. */
  const drafts = new Map();
  /** Cancel buttons clicked once, by action key, until when a second click sends the action. */
  const armed = new Map();
  /** Which task logs are open, by "run/task". */
  const openLogs = new Map();

  /** The token from the #token= fragment, which is then taken out of the address bar (and so out of history). */
  function takeToken() {
    const fragment = new URLSearchParams(location.hash.replace(/^#/, ''));
    const given = fragment.get('token');
    if (given) {
      try { sessionStorage.setItem(TOKEN_KEY, given); } catch (e) { /* storage off: this tab keeps it in memory */ }
      history.replaceState(null, '', location.pathname + location.search);
      return given;
    }
    try { return sessionStorage.getItem(TOKEN_KEY); } catch (e) { return null; }
  }

  // ---- the API ----

  class ApiError extends Error {
    constructor(status, message, json) {
      super(message);
      this.status = status;
      this.json = json;
    }
  }

  function headers(extra) {
    const h = Object.assign({}, extra);
    if (token) h.Authorization = 'Bearer ' + token;
    return h;
  }

  async function api(method, path, body) {
    const init = { method: method, headers: headers(body === undefined ? {} : { 'Content-Type': 'application/json' }),
      cache: 'no-store' };
    if (body !== undefined) init.body = JSON.stringify(body);
    const res = await fetch(path, init);
    const text = await res.text();
    if (!res.ok) throw refusal(res.status, text);
    return text ? JSON.parse(text) : null;
  }

  function refusal(status, text) {
    let message = 'HTTP ' + status;
    try {
      const parsed = JSON.parse(text);
      if (parsed && typeof parsed.error === 'string') message = status + ': ' + parsed.error;
    } catch (e) { /* not JSON: the text is shown as it is */ }
    return new ApiError(status, message, text);
  }

  function taskPath(run, task, what) {
    return '/api/runs/' + encodeURIComponent(run) + '/tasks/' + encodeURIComponent(task) + '/' + what;
  }

  function runPath(run, what) {
    return '/api/runs/' + encodeURIComponent(run) + '/' + what;
  }

  // ---- state and the change stream ----

  async function refresh() {
    if (refreshing) { again = true; return; }
    refreshing = true;
    try {
      const next = await api('GET', '/api/state');
      state = next;
      fetchedAt = Date.now();
      if (lastEventId === null && typeof next.eventId === 'number') lastEventId = next.eventId;
      render();
    } catch (e) {
      fail(e);
      if (e instanceof ApiError && (e.status === 401 || e.status === 403)) {
        state = null;
        render();
        stop('refused');
      }
    } finally {
      refreshing = false;
      if (again && !stopped) { again = false; refresh(); }
    }
  }

  /** Many changes come at once (a grant, its update, the queue): one read of the state after the burst. */
  function soon() {
    if (timer) return;
    timer = setTimeout(function () { timer = null; refresh(); }, 120);
  }

  /** Follows /api/events with fetch, since EventSource cannot send the token; resumes from the last id it saw. */
  async function follow() {
    let wait = 1000;
    while (!stopped) {
      try {
        const extra = { Accept: 'text/event-stream' };
        if (lastEventId !== null) extra['Last-Event-ID'] = String(lastEventId);
        const res = await fetch('/api/events', { headers: headers(extra), cache: 'no-store' });
        if (!res.ok) {
          const err = refusal(res.status, await res.text());
          if (res.status === 401 || res.status === 403) { fail(err); stop('refused'); return; }
          throw err;
        }
        live('on', 'live');
        wait = 1000;
        await read(res.body.getReader());
      } catch (e) {
        if (stopped) return;
      }
      live('off', 'reconnecting');
      await new Promise(function (r) { setTimeout(r, wait); });
      wait = Math.min(wait * 2, 15000);
      soon(); // what changed while the stream was down
    }
  }

  async function read(reader) {
    const decoder = new TextDecoder();
    let buffer = '';
    for (;;) {
      const chunk = await reader.read();
      if (chunk.done) return;
      buffer += decoder.decode(chunk.value, { stream: true }).replace(/\r\n?/g, '\n');
      let end;
      while ((end = buffer.indexOf('\n\n')) >= 0) {
        dispatch(buffer.slice(0, end));
        buffer = buffer.slice(end + 2);
      }
    }
  }

  function dispatch(frame) {
    let kind = 'message';
    let id = null;
    let data = false;
    frame.split('\n').forEach(function (line) {
      if (line === '' || line.charAt(0) === ':') return;
      const colon = line.indexOf(':');
      const field = colon < 0 ? line : line.slice(0, colon);
      const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
      if (field === 'id') id = value;
      else if (field === 'event') kind = value;
      else if (field === 'data') data = true;
    });
    if (id !== null && /^[0-9]+$/.test(id)) lastEventId = Number(id);
    if (kind === 'reset' || data) soon();
  }

  function stop(why) {
    stopped = true;
    live('dead', why);
  }

  function live(cls, text) {
    const el = byId('live');
    el.className = 'live ' + cls;
    el.textContent = text;
  }

  // ---- errors and notes ----

  function fail(e) {
    const box = byId('error');
    byId('error-text').textContent = e instanceof ApiError ? e.message : 'Lanes: ' + e.message;
    byId('error-json').textContent = e instanceof ApiError ? e.json : '';
    box.dataset.status = e instanceof ApiError ? String(e.status) : '';
    box.hidden = false;
  }

  function dismiss() {
    byId('error').hidden = true;
  }

  // ---- actions ----

  /** Sends an action; a button that cancels needs a second click within four seconds. */
  function actionButton(kind, run, task, value, cls) {
    const b = button(LABELS[kind] || kind, cls);
    b.dataset.action = kind;
    b.dataset.run = run;
    if (task) b.dataset.task = task;
    const key = draftKey(kind, run, task);
    const arm = function (on) {
      b.classList.toggle('armed', on);
      b.textContent = on ? 'Click again to ' + (LABELS[kind] || kind).toLowerCase() : LABELS[kind] || kind;
    };
    // Armed survives a re-render (changes come every few seconds), so the second click is not lost.
    if ((armed.get(key) || 0) > Date.now()) arm(true);
    b.addEventListener('click', async function () {
      if (kind.indexOf('cancel') === 0 && !((armed.get(key) || 0) > Date.now())) {
        armed.set(key, Date.now() + 4000);
        arm(true);
        setTimeout(function () { if (b.isConnected) arm((armed.get(key) || 0) > Date.now()); }, 4100);
        return;
      }
      armed.delete(key);
      arm(false);
      const route = ROUTES[kind];
      if (!route) { fail(new Error('no route for the action ' + kind)); return; }
      let body;
      if (value) {
        body = value();
        if (body === null) return;
      }
      b.disabled = true;
      try {
        await api('POST', route(run, task), body === undefined ? {} : body);
        dismiss();
        if (value) drafts.delete(draftKey(kind, run, task));
        note(b, 'sent');
        soon();
      } catch (e) {
        fail(e);
      } finally {
        b.disabled = false;
      }
    });
    return b;
  }

  function note(anchor, text) {
    const n = el('span', 'note', text);
    anchor.after(n);
    setTimeout(function () { n.remove(); }, 3000);
  }

  function draftKey(kind, run, task) {
    return kind + ' ' + run + '/' + (task || '');
  }

  /** A text field whose content survives re-rendering, by key. */
  function draftInput(tag, kind, run, task, attrs) {
    const key = draftKey(kind, run, task);
    const input = document.createElement(tag);
    Object.keys(attrs).forEach(function (a) { input.setAttribute(a, attrs[a]); });
    input.dataset.draft = key;
    input.value = drafts.get(key) || '';
    input.addEventListener('input', function () { drafts.set(key, input.value); });
    return input;
  }

  function answerAction(run, task) {
    const box = draftInput('textarea', 'answer', run, task, { placeholder: 'Your answer goes into the next attempt\'s prompt', 'aria-label': 'answer to ' + task });
    const send = actionButton('answer', run, task, function () {
      const text = box.value.trim();
      if (!text) { fail(new Error('answer: write an answer first')); return null; }
      return { text: text };
    }, 'primary');
    return [box, send];
  }

  function budgetAction(run) {
    const input = draftInput('input', 'raise-budget', run, null, { type: 'number', min: '0', step: '0.5', placeholder: 'USD', 'aria-label': 'new budget for ' + run });
    const send = actionButton('raise-budget', run, null, function () {
      const usd = Number(input.value);
      if (!input.value || !isFinite(usd)) { fail(new Error('usd: give the new budget in dollars')); return null; }
      return { usd: usd };
    });
    return [input, send];
  }

  // ---- rendering ----

  function render() {
    const focus = document.activeElement && document.activeElement.dataset ? document.activeElement.dataset.draft : null;
    renderTop();
    renderInbox();
    renderWorkers();
    renderRuns();
    renderQueue();
    renderOwnership();
    renderCost();
    if (focus) {
      const again = document.querySelector('[data-draft="' + CSS.escape(focus) + '"]');
      if (again) { again.focus(); const n = again.value.length; try { again.setSelectionRange(n, n); } catch (e) { /* number input */ } }
    }
  }

  function renderTop() {
    const lead = state && state.lead;
    byId('lead').textContent = !state ? 'no data' : lead && lead.name ? 'lead ' + lead.name + (lead.since ? ' since ' + clock(lead.since) : '') : 'no lead serving';
    const c = state && state.cost;
    byId('spent').textContent = c ? 'spent ' + usd(c.totalUsd) + ' · today ' + usd(c.today) : '';
  }

  function renderInbox() {
    const items = state ? state.inbox || [] : [];
    const parked = state ? parkedWithoutItem(items) : [];
    const box = byId('inbox-items');
    const rows = items.map(inboxItem).concat(parked.map(parkedItem));
    byId('inbox-count').textContent = rows.length ? '(' + rows.length + ')' : '';
    byId('inbox').classList.toggle('clear', rows.length === 0);
    box.replaceChildren.apply(box, rows.length ? rows : [el('p', 'empty', state ? 'Nothing needs you.' : 'No data.')]);
  }

  function inboxItem(item) {
    const row = el('div', 'item');
    row.dataset.inboxId = item.id;
    row.dataset.kind = item.kind;
    const where = [item.run, item.task].filter(Boolean).join('/');
    row.append(
      el('div', null, el('span', 'kind ' + safeClass(item.kind), item.kind), el('div', 'muted', ago(item.at))),
      el('div', null, el('div', 'what', item.title), where ? el('div', 'where', where) : '',
        item.detail ? el('pre', null, item.detail) : ''));
    const acts = el('div', 'acts');
    (item.actions || []).forEach(function (a) {
      if (a === 'answer' && item.task) acts.append.apply(acts, answerAction(item.run, item.task));
      else if (a === 'raise-budget') acts.append.apply(acts, budgetAction(item.run));
      else if (a === 'dismiss') acts.append(actionButton('dismiss', item.run || '', null, function () { return { id: item.id }; }));
      else if (a === 'cancel' || a === 'cancel-task' || a === 'cancel-run') acts.append(actionButton(item.task && a !== 'cancel-run' ? 'cancel-task' : 'cancel-run', item.run, item.task && a !== 'cancel-run' ? item.task : null, null, 'danger'));
      else if (ROUTES[a] && (item.task || !/^(retry|approve)$/.test(a))) acts.append(actionButton(a, item.run, item.task, null, a === 'approve' || a === 'resume' ? 'primary' : null));
    });
    row.append(el('div'), acts);
    return row;
  }

  /** Parked tasks the inbox does not list (a lead without an inbox, or an item not made yet) still need a person. */
  function parkedWithoutItem(items) {
    const listed = new Set(items.map(function (i) { return i.run + '/' + i.task; }));
    const out = [];
    (state.runs || []).forEach(function (r) {
      (r.tasks || []).forEach(function (t) {
        if (t.state === 'PARKED' && !listed.has(r.run + '/' + t.task)) out.push({ run: r.run, task: t });
      });
    });
    return out;
  }

  function parkedItem(p) {
    const asks = /asks: ([\s\S]*)$/.exec(p.task.detail || '');
    return inboxItem({
      id: 'parked:' + p.run + '/' + p.task.task, kind: asks ? 'question' : 'parked', run: p.run, task: p.task.task,
      title: asks ? 'Question from ' + p.task.task : p.task.task + ' is parked',
      detail: asks ? asks[1] : p.task.detail, actions: asks ? ['answer', 'cancel-task'] : ['approve', 'retry', 'cancel-task'],
      at: null,
    });
  }

  function renderWorkers() {
    const box = byId('worker-lanes');
    const workers = state ? state.workers || [] : [];
    if (!workers.length) { box.replaceChildren(el('p', 'empty', state ? 'No worker has announced itself.' : 'No data.')); return; }
    const tasks = taskIndex();
    box.replaceChildren.apply(box, workers.map(function (w) {
      const lane = el('div', 'lane');
      lane.dataset.worker = w.worker;
      const jobs = el('div', 'jobs');
      (w.tasks || []).forEach(function (ref) {
        const t = tasks.get(ref);
        const job = el('div', 'job', el('div', 'name', ref));
        job.dataset.task = ref;
        if (t) job.append(el('div', 'stats', stateBadge(t.state), ' ', t.phase || '', ' · ', elapsed(t), ' · ', usd(t.costUsd)));
        jobs.append(job);
      });
      if (!(w.tasks || []).length) jobs.append(el('span', 'muted', 'idle'));
      lane.append(el('div', null, el('div', 'who', w.worker),
        el('div', 'meta', (w.host ? w.host + ' · ' : '') + w.free + ' of ' + w.slots + ' slots free'
          + ((w.capabilities || []).length ? ' · ' + w.capabilities.join(', ') : '') + ' · seen ' + ago(w.lastSeen))), jobs);
      return lane;
    }));
  }

  function inboxActions(run, task) {
    const item = (state.inbox || []).find(function (i) { return i.run === run && i.task === task; });
    return item ? item.actions || [] : null;
  }

  function taskIndex() {
    const index = new Map();
    (state.runs || []).forEach(function (r) { (r.tasks || []).forEach(function (t) { index.set(r.run + '/' + t.task, t); }); });
    return index;
  }

  function renderRuns() {
    const box = byId('run-list');
    const runs = state ? (state.runs || []).slice() : [];
    if (!runs.length) { box.replaceChildren(el('p', 'empty', state ? 'No runs yet: lanes submit PLAN starts one.' : 'No data.')); return; }
    runs.sort(function (a, b) { return (a.state === 'finished') - (b.state === 'finished') || String(b.started).localeCompare(String(a.started)); });
    box.replaceChildren.apply(box, runs.map(runCard));
  }

  function runCard(r) {
    const card = el('div', 'run');
    card.dataset.run = r.run;
    const acts = el('span', 'acts');
    if (r.state === 'running') acts.append(actionButton('pause', r.run));
    if (r.state === 'paused') acts.append(actionButton('resume', r.run, null, null, 'primary'));
    if (r.state !== 'finished') {
      acts.append.apply(acts, budgetAction(r.run));
      acts.append(actionButton('cancel-run', r.run, null, null, 'danger'));
    }
    const budget = r.budgetUsd === null || r.budgetUsd === undefined ? '' : ' of ' + usd(r.budgetUsd);
    card.append(el('div', 'run-head',
      el('span', 'id', r.run), el('span', 'muted', r.plan + ' → ' + r.target), stateBadge(r.state, r.state),
      r.paused ? el('span', 'state paused', 'paused: ' + r.paused) : '',
      el('span', 'muted', usd(r.costUsd) + budget + ' · started ' + clock(r.started)), acts));
    const table = el('table', 'tasks');
    table.append(el('thead', null, el('tr', null, th('Task'), th('State'), th('Try', 'num'), th('Worker'), th('Phase'),
      th('Elapsed', 'num'), th('Cost', 'num'), th('Detail'), th(''))));
    const body = el('tbody');
    (r.tasks || []).forEach(function (t) {
      const ref = r.run + '/' + t.task;
      const tr = el('tr');
      tr.dataset.task = ref;
      tr.dataset.state = t.state;
      const acts = el('td', 'acts');
      // What the inbox offers for the task, when it lists it (an agent's question is answered, not approved).
      const offered = inboxActions(r.run, t.task);
      const may = function (a, otherwise) { return offered ? offered.indexOf(a) >= 0 : otherwise; };
      if (may('approve', t.state === 'PARKED')) acts.append(actionButton('approve', r.run, t.task, null, 'primary'));
      if (may('retry', t.state === 'FAILED' || t.state === 'PARKED')) acts.append(actionButton('retry', r.run, t.task));
      if (may('cancel-task', !FINAL.has(t.state))) acts.append(actionButton('cancel-task', r.run, t.task, null, 'danger'));
      const log = button(openLogs.has(ref) ? 'Hide log' : 'Log', 'quiet');
      log.dataset.log = ref;
      log.addEventListener('click', function () { toggleLog(r.run, t.task); });
      acts.append(log);
      const time = el('td', 'num', elapsed(t));
      if (RUNNING.has(t.state)) { time.dataset.elapsed = String(t.elapsedMs || 0); }
      const named = el('td', null, el('div', 'mono', t.task));
      if (t.title && t.title !== t.task) { named.append(el('div', 'muted title', t.title)); }
      tr.append(named, el('td', null, stateBadge(t.state)), el('td', 'num', String(t.attempt || '')),
        el('td', null, t.worker || ''), el('td', null, t.phase || ''), time, el('td', 'num', usd(t.costUsd)),
        el('td', 'detail', t.detail || ''), acts);
      body.append(tr);
      if (openLogs.has(ref)) {
        const cell = el('td', null, logView(openLogs.get(ref)));
        cell.colSpan = 9;
        body.append(el('tr', 'log-row', cell));
      }
    });
    table.append(body);
    card.append(table);
    return card;
  }

  async function toggleLog(run, task) {
    const ref = run + '/' + task;
    if (openLogs.has(ref)) { openLogs.delete(ref); render(); return; }
    try {
      openLogs.set(ref, await api('GET', taskPath(run, task, 'log')));
      render();
    } catch (e) {
      fail(e);
    }
  }

  function logView(log) {
    const parts = [];
    if (log.phase || log.detail) parts.push('[' + (log.phase || 'last report') + '] ' + (log.detail || ''));
    if (log.outcome) parts.push('outcome: ' + log.outcome);
    if (log.agentTail) parts.push('--- agent ---\n' + log.agentTail);
    if (log.verifyTail) parts.push('--- verify ---\n' + log.verifyTail);
    return el('pre', 'log', parts.join('\n') || 'Nothing reported yet.');
  }

  function renderQueue() {
    const box = byId('queue-list');
    const queues = state ? (state.queue || []).filter(function (q) { return (q.entries || []).length || (q.evictions || []).length; }) : [];
    if (!queues.length) { box.replaceChildren(el('p', 'empty', state ? 'Empty.' : 'No data.')); return; }
    box.replaceChildren.apply(box, queues.map(function (q) {
      const part = el('div', 'queue');
      part.dataset.run = q.run;
      part.append(el('div', 'sub', q.run + ' · window ' + q.window));
      const list = el('table');
      (q.entries || []).forEach(function (e, i) {
        list.append(el('tr', null, el('td', 'num', String(i + 1)), el('td', 'mono', e.task), el('td', null, stateBadge(e.state))));
      });
      part.append(list);
      (q.evictions || []).forEach(function (e) {
        part.append(el('div', 'order', el('span', 'mono', e.task), ' evicted ', el('span', 'why', ago(e.at) + ': ' + e.why)));
      });
      return part;
    }));
  }

  function renderOwnership() {
    const box = byId('ownership-map');
    const runs = state ? (state.runs || []).filter(function (r) { return r.state !== 'finished'; }) : [];
    if (!runs.length) { box.replaceChildren(el('p', 'empty', state ? 'No run in progress.' : 'No data.')); return; }
    box.replaceChildren.apply(box, runs.map(function (r) {
      const part = el('div', 'owners');
      part.dataset.run = r.run;
      part.append(el('div', 'sub', r.run));
      const table = el('table');
      (r.tasks || []).forEach(function (t) {
        const claims = el('td');
        (t.claims || []).forEach(function (c) { claims.append(el('code', 'chip', c)); });
        table.append(el('tr', null, el('td', 'mono', t.task), claims));
      });
      part.append(table);
      const added = (r.orderings || []).filter(function (o) { return o.why && o.why !== 'in the plan'; });
      (r.orderings || []).forEach(function (o) {
        const line = el('div', 'order', el('span', 'mono', o.before), ' → ', el('span', 'mono', o.after), ' ',
          el('span', 'why', o.why || ''));
        if (added.indexOf(o) >= 0) line.classList.add('added');
        part.append(line);
      });
      return part;
    }));
  }

  function renderCost() {
    const box = byId('cost-table');
    if (!state || !state.cost) { box.replaceChildren(el('p', 'empty', 'No data.')); return; }
    const c = state.cost;
    const table = el('table');
    table.append(el('tr', null, el('td', null, 'Total'), el('td', 'num', usd(c.totalUsd))));
    table.append(el('tr', null, el('td', null, 'Today'), el('td', 'num', usd(c.today))));
    const parts = [table];
    const byDay = c.byDay || {};
    if (Object.keys(byDay).length) parts.push(el('div', 'sub', 'By day'), pairs(byDay, true));
    parts.push(el('div', 'sub', 'By plan'), pairs(c.byPlan || {}, false));
    const byTask = {};
    (state.runs || []).forEach(function (r) {
      (r.tasks || []).forEach(function (t) { if (t.costUsd) byTask[r.run + '/' + t.task] = t.costUsd; });
    });
    parts.push(el('div', 'sub', 'By task'), pairs(byTask, false));
    box.replaceChildren.apply(box, parts);
  }

  function pairs(map, byKey) {
    const keys = Object.keys(map);
    if (!keys.length) return el('p', 'empty', 'Nothing spent.');
    keys.sort(byKey ? function (a, b) { return b.localeCompare(a); } : function (a, b) { return map[b] - map[a]; });
    const table = el('table');
    keys.slice(0, 12).forEach(function (k) { table.append(el('tr', null, el('td', 'mono', k), el('td', 'num', usd(map[k])))); });
    if (keys.length > 12) table.append(el('tr', null, el('td', 'muted', 'and ' + (keys.length - 12) + ' more'), el('td')));
    return table;
  }

  // ---- small helpers: every text goes in as a text node ----

  function el(tag, cls) {
    const node = document.createElement(tag);
    if (cls) node.className = cls;
    for (let i = 2; i < arguments.length; i++) {
      const child = arguments[i];
      if (child === null || child === undefined || child === '') continue;
      node.append(typeof child === 'string' ? document.createTextNode(child) : child);
    }
    return node;
  }

  function th(text, cls) { return el('th', cls, text); }

  function button(text, cls) {
    const b = el('button', cls, text);
    b.type = 'button';
    return b;
  }

  function stateBadge(s, text) {
    const b = el('span', 'state ' + safeClass(s), text || String(s).toLowerCase());
    return b;
  }

  /** A class name from data: only letters, digits and '-', so a state cannot add classes of its choosing. */
  function safeClass(s) {
    return String(s || '').replace(/[^A-Za-z0-9-]/g, '');
  }

  function byId(id) { return document.getElementById(id); }

  function usd(n) {
    const v = Number(n) || 0;
    return '$' + (v > 0 && v < 0.01 ? v.toFixed(4) : v.toFixed(2));
  }

  function elapsed(t) {
    if (!t.elapsedMs && !RUNNING.has(t.state)) return '';
    return duration((t.elapsedMs || 0) + (RUNNING.has(t.state) ? Date.now() - fetchedAt : 0));
  }

  function duration(ms) {
    const s = Math.max(0, Math.floor(ms / 1000));
    if (s < 60) return s + 's';
    if (s < 3600) return Math.floor(s / 60) + 'm ' + String(s % 60).padStart(2, '0') + 's';
    return Math.floor(s / 3600) + 'h ' + String(Math.floor(s % 3600 / 60)).padStart(2, '0') + 'm';
  }

  function ago(at) {
    const t = typeof at === 'number' ? at : Date.parse(at);
    if (!at || isNaN(t)) return '';
    return duration(Date.now() - t) + ' ago';
  }

  function clock(iso) {
    const t = new Date(iso);
    return isNaN(t) ? '' : t.toLocaleString([], { month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit' });
  }

  /** The elapsed time of running tasks moves on between changes without reading the state again. */
  function tick() {
    document.querySelectorAll('[data-elapsed]').forEach(function (cell) {
      cell.textContent = duration(Number(cell.dataset.elapsed) + Date.now() - fetchedAt);
    });
  }

  function start() {
    byId('error-close').addEventListener('click', dismiss);
    if (!token) {
      fail(new Error('no token: open the address the lead printed (dashboard: http://…/#token=…)'));
    }
    setInterval(tick, 1000);
    refresh().then(function () { if (!stopped) follow(); });
  }

  start();
})();
