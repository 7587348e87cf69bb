// The dashboard in the browser: fetches the overview and each member's chart specs (same origin, with the
// session cookie) and draws them with vega-embed. Vega expressions run through its AST interpreter, so the
// page's Content-Security-Policy needs no 'unsafe-eval'.
'use strict';
(function () {
  const CHARTS = [
    ['recovery', 'Recovery'],
    ['hrv', 'Heart rate variability'],
    ['restingHeartRate', 'Resting heart rate'],
    ['sleep', 'Sleep'],
    ['strain', 'Strain and workouts'],
  ];
  let range = 30;
  let overview = null;

  const el = (tag, attributes = {}, ...children) => {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attributes)) node.setAttribute(key, value);
    for (const child of children) node.append(child instanceof Node ? child : document.createTextNode(String(child ?? '')));
    return node;
  };

  async function getJson(url) {
    const response = await fetch(url, { credentials: 'same-origin', headers: { accept: 'application/json' } });
    if (response.status === 401) {
      window.location.assign('/login');
      throw new Error('signed out');
    }
    if (!response.ok) throw new Error(`${url} answered ${response.status}`);
    return response.json();
  }

  function table(headers, rows, empty) {
    if (rows.length === 0) return el('p', { class: 'muted' }, empty);
    return el('table', {}, el('thead', {}, el('tr', {}, ...headers.map((h) => el('th', { scope: 'col' }, h)))),
      el('tbody', {}, ...rows.map((cells) => el('tr', {}, ...cells.map((cell) => el('td', {}, cell))))));
  }

  // The charts' date format (YYYY-MM-DD, src/charts/days.ts), with the time in the browser's zone.
  const pad = (n) => String(n).padStart(2, '0');
  const when = (iso) => {
    if (!iso) return '—';
    const t = new Date(iso);
    return `${t.getFullYear()}-${pad(t.getMonth() + 1)}-${pad(t.getDate())} ${pad(t.getHours())}:${pad(t.getMinutes())}`;
  };
  const duration = (ms) => (ms === null ? '—' : ms < 1000 ? `${ms} ms` : `${(ms / 1000).toFixed(1)} s`);
  const counts = (c) => (c ? Object.entries(c).map(([resource, n]) => `${resource} ${n.upserted}`).join(', ') : '—');
  const memberName = (account) => account.name || `WHOOP member ${account.userId}`;

  // The operator's page holds the Connect form with the CSRF token; a member's page has neither.
  const operator = () => overview.viewer === 'operator';
  const csrf = () => document.querySelector('#connect-form input[name=_csrf]').value;

  /** A button that posts to `action` with the page's CSRF token. */
  function postButton(action, label) {
    return el('form', { method: 'post', action, class: 'inline' },
      el('input', { type: 'hidden', name: '_csrf', value: csrf() }), el('button', { type: 'submit' }, label));
  }

  function renderOverview() {
    const accounts = overview.accounts.map((account) => {
      const state = el('span', { class: `status-${account.status}` },
        account.reauthorizationRequired ? 'Re-authorization required' : 'Active');
      const actions = el('span', {});
      if (operator()) {
        if (account.reauthorizationRequired) actions.append(el('button', { type: 'submit', form: 'connect-form' }, 'Reconnect'));
        actions.append(postButton(`/dashboard/members/${encodeURIComponent(account.userId)}/revoke`, 'Revoke access'));
      }
      return [memberName(account), state, account.reason || '', actions];
    });
    document.getElementById('accounts').replaceChildren(
      table(['Member', 'State', 'Reason', ''], accounts, 'No WHOOP account is connected yet.'));
    const runs = overview.recentRuns.map((run) => [
      run.trigger,
      run.window ? `${run.days} d: ${when(run.window.start)} → ${when(run.window.end)}` : `${run.days} d`,
      el('span', { class: `status-${run.status}` }, run.status + (run.error ? `: ${run.error}` : '')),
      counts(run.counts),
      duration(run.durationMs),
      when(run.requestedAt),
    ]);
    document.getElementById('runs').replaceChildren(
      table(['Trigger', 'Window', 'Outcome', 'Records', 'Duration', 'Requested'], runs, 'No sync has run yet.'));
    const schedules = overview.schedules.map((job) => [job.schedule, job.timezone, when(job.nextRun)]);
    document.getElementById('schedules').replaceChildren(
      table(['Schedule', 'Time zone', 'Next run'], schedules, 'Scheduled syncs are off (SYNC_SCHEDULES=off).'));
    const digests = overview.digests.map((job) => [job.name, when(job.nextRun)]);
    document.getElementById('digests').replaceChildren(table(['Digest', 'Next run'], digests, 'No digest is scheduled.'));
  }

  // A range clicked while the previous one is still drawing starts a new drawing; the older one stops at its
  // next step instead of adding its charts to the page.
  let drawing = 0;

  async function renderMembers() {
    const mine = ++drawing;
    const container = document.getElementById('members');
    if (overview.accounts.length === 0) {
      container.replaceChildren(el('section', {}, el('p', {}, 'No WHOOP account is connected yet.')));
      return;
    }
    container.replaceChildren();
    // One member after the other, each section in the page before its charts are drawn: a chart sized
    // to its container needs the container's width.
    for (const account of overview.accounts) {
      if (mine !== drawing) return;
      await renderMember(account, container, mine);
    }
    if (mine !== drawing) return;
    document.getElementById('range-note').textContent = `Showing the last ${range} days.`;
    document.body.dataset.range = String(range);
    document.body.dataset.ready = 'true';
  }

  // The member's whole history, per table, as CSV and JSON (GET /export/…, behind the same sign-in).
  function downloads(userId) {
    const links = ['daily', 'cycles', 'recoveries', 'sleeps', 'workouts'].flatMap((table) => [
      ' ', table, ' ',
      ...['csv', 'json'].flatMap((format, i) => [
        i > 0 ? '/' : '',
        el('a', { href: `/export/${table}.${format}?member=${encodeURIComponent(userId)}`, download: '', 'data-export': `${table}.${format}` }, format.toUpperCase()),
      ]),
    ]);
    return el('p', { class: 'note downloads' }, 'Download all:', ...links);
  }

  async function renderMember(account, container, mine) {
    const data = await getJson(`/dashboard/api/members/${encodeURIComponent(account.userId)}/charts?range=${range}`);
    if (mine !== drawing) return;
    const section = el('section', { class: 'member', 'data-user-id': account.userId }, el('h2', {}, memberName(account)));
    const zones = Object.entries(data.recoveryZones).map(([zone, n]) => `${zone}: ${n} day${n === 1 ? '' : 's'}`).join(' · ');
    section.append(el('p', { class: 'note' }, `${data.days} days with data since ${data.from}.`));
    // The whole-history backfill: how far back it has reached, and what is left while it runs.
    const history = overview.history.members.find((member) => member.userId === account.userId);
    if (history) section.append(el('p', { class: 'note history', 'data-history': history.complete ? 'complete' : 'running' }, `WHOOP ${history.text}.`));
    section.append(downloads(account.userId));
    container.append(section);
    for (const [key, title] of CHARTS) {
      if (mine !== drawing) return;
      const chart = el('div', { class: 'chart', 'data-chart': key, role: 'img', 'aria-label': `${title}: ${data.charts[key].description}` });
      section.append(el('h3', {}, title), chart);
      if (key === 'recovery') section.append(el('p', { class: 'note zones' }, `Zones: ${zones}`));
      const { view } = await vegaEmbed(chart, data.charts[key], { renderer: 'svg', actions: false, ast: true });
      // The days the chart covers, as drawn: every chart of a member shows the same ones.
      chart.dataset.xDomain = view.scale('x').domain().map(Number).join(',');
    }
  }

  async function load() {
    document.body.dataset.ready = 'false';
    overview = overview || (await getJson('/dashboard/api/overview'));
    renderOverview();
    await renderMembers();
  }

  document.getElementById('ranges').addEventListener('click', (event) => {
    const button = event.target.closest('button[data-range]');
    if (!button) return;
    range = Number(button.dataset.range);
    for (const other of document.querySelectorAll('#ranges button')) other.setAttribute('aria-pressed', String(other === button));
    load().catch(report);
  });

  function report(error) {
    if (error.message === 'signed out') return;
    document.getElementById('members').replaceChildren(el('section', {}, el('p', { class: 'error' }, `The dashboard could not load: ${error.message}`)));
    console.error(error);
  }

  load().catch(report);
})();
