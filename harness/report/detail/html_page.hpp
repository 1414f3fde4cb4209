#pragma once
// The fixed parts of reports/index.html: styles, layout and the script that renders the run from the
// JSON the writer puts between them. No network: everything the page needs is inside it.
// Filters live in the URL's fragment (#outcome=failed&board=sim-1&scenario=x&case=3), so a link can
// point at a view; line anchors are #c<case>-L<line>.

namespace provhil::report::detail::html_page {

inline constexpr const char* head = R"HTML(<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>provhil run</title>
<style>
:root { --pass:#1a7f37; --fail:#cf222e; --err:#9a6700; --skip:#6e7781; --flaky:#8250df; --line:#d0d7de; }
* { box-sizing: border-box; }
body { font: 14px/1.4 system-ui, sans-serif; margin: 0; color: #1f2328; background: #fff; }
header { padding: 12px 16px; border-bottom: 1px solid var(--line); background: #f6f8fa; }
header h1 { font-size: 18px; margin: 0 0 6px; }
.counts span { margin-right: 14px; font-weight: 600; }
.meta { color: #57606a; font-size: 12px; }
.meta span { margin-right: 14px; }
#filters { padding: 8px 16px; display: flex; gap: 12px; align-items: center; flex-wrap: wrap; border-bottom: 1px solid var(--line); }
#filters label { font-size: 12px; color: #57606a; }
main { display: flex; gap: 0; align-items: flex-start; }
#list { flex: 1 1 45%; max-height: calc(100vh - 130px); overflow: auto; }
#detail { flex: 1 1 55%; padding: 12px 16px; border-left: 1px solid var(--line); min-height: 200px; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; padding: 4px 8px; border-bottom: 1px solid #eaeef2; vertical-align: top; }
th { position: sticky; top: 0; background: #fff; font-size: 12px; color: #57606a; }
tr.case { cursor: pointer; }
tr.case:hover { background: #f6f8fa; }
tr.case.open { background: #ddf4ff; }
td.msg { color: #57606a; max-width: 28em; overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
.badge { display: inline-block; padding: 0 6px; border-radius: 10px; color: #fff; font-size: 12px; font-weight: 600; }
.b-passed { background: var(--pass); } .b-failed { background: var(--fail); } .b-error { background: var(--err); }
.b-skipped { background: var(--skip); } .b-flaky { background: var(--flaky); }
h2 { font-size: 16px; margin: 0 0 4px; }
.identity { font-size: 12px; color: #57606a; margin-bottom: 8px; }
.identity span { margin-right: 12px; }
.failure { border: 1px solid var(--fail); border-radius: 6px; padding: 8px; margin: 8px 0; background: #fff8f8; }
.failure .where { font-family: ui-monospace, monospace; font-weight: 600; color: var(--fail); }
.sides { display: flex; gap: 8px; margin-top: 6px; }
.sides > div { flex: 1; min-width: 0; }
.sides h4 { margin: 0 0 2px; font-size: 12px; color: #57606a; }
pre { margin: 0; padding: 6px; background: #f6f8fa; border-radius: 4px; overflow: auto; max-height: 260px; font: 12px/1.35 ui-monospace, monospace; white-space: pre-wrap; word-break: break-all; }
svg.timeline { width: 100%; border: 1px solid var(--line); border-radius: 4px; background: #fff; }
svg.timeline text { font: 11px system-ui, sans-serif; }
.log { font: 12px/1.35 ui-monospace, monospace; background: #f6f8fa; border-radius: 4px; max-height: 320px; overflow: auto; padding: 4px 0; }
.log div { white-space: pre-wrap; word-break: break-all; padding: 0 6px; }
.log div:target { background: #fff8c5; }
.log a { color: #8c959f; text-decoration: none; display: inline-block; min-width: 4em; }
table.x td { font-size: 12px; }
tr.fault td { color: var(--fail); }
.files a { margin-right: 10px; }
#self-check { display: none; }
</style>
</head>
<body>
<header id="run"><h1>provhil run</h1></header>
<section id="filters">
<label>outcome <select id="f-outcome"><option value="">all</option></select></label>
<label>board <select id="f-board"><option value="">all</option></select></label>
<label>scenario <select id="f-scenario"><option value="">all</option></select></label>
<span id="shown"></span>
</section>
<main><div id="list"><table><thead><tr><th>result</th><th>scenario</th><th>board</th><th>time</th><th>message</th></tr></thead><tbody id="rows"></tbody></table></div>
<section id="detail"><p>Select a case.</p></section></main>
<div id="self-check" data-status="pending"></div>
)HTML";

inline constexpr const char* tail = R"HTML(<script>
(function () {
  'use strict';
  var errors = [];
  window.addEventListener('error', function (e) { errors.push(String(e.message)); });
  var data = JSON.parse(document.getElementById('run-data').textContent);
  var cases = JSON.parse(document.getElementById('case-data').textContent);
  var run = data.run || {}, summary = data.summary || {};
  var SVG = 'http://www.w3.org/2000/svg';

  function el(tag, attrs, kids) {
    var e = document.createElement(tag);
    for (var k in (attrs || {})) { if (attrs[k] !== undefined && attrs[k] !== null) e.setAttribute(k, attrs[k]); }
    (kids || []).forEach(function (c) { if (c !== null && c !== undefined) e.appendChild(typeof c === 'string' ? document.createTextNode(c) : c); });
    return e;
  }
  function svg(tag, attrs, kids) {
    var e = document.createElementNS(SVG, tag);
    for (var k in (attrs || {})) e.setAttribute(k, attrs[k]);
    (kids || []).forEach(function (c) { e.appendChild(typeof c === 'string' ? document.createTextNode(c) : c); });
    return e;
  }
  function secs(ms) { return ms == null ? '' : (ms / 1000).toFixed(ms < 10000 ? 2 : 1) + ' s'; }
  function outcomeOf(c) { return c.fl ? 'flaky' : c.o; }

  // ---- the run ----
  (function header() {
    var h = document.getElementById('run');
    h.innerHTML = '';
    h.appendChild(el('h1', {}, ['provhil run ' + (run.run_id || '')]));
    var counts = el('div', { 'class': 'counts' }, [
      el('span', {}, [String(summary.tests || 0) + ' tests']),
      el('span', { style: 'color:var(--pass)' }, [String(summary.passed || 0) + ' passed']),
      el('span', { style: 'color:var(--flaky)' }, [String(summary.flaky || 0) + ' flaky']),
      el('span', { style: 'color:var(--fail)' }, [String(summary.failed || 0) + ' failed']),
      el('span', { style: 'color:var(--err)' }, [String(summary.errors || 0) + ' errors']),
      el('span', { style: 'color:var(--skip)' }, [String(summary.skipped || 0) + ' skipped'])]);
    h.appendChild(counts);
    var props = run.properties || {};
    var meta = [['started', run.started], ['duration', secs(summary.wall_ms != null ? summary.wall_ms : summary.duration_ms)],
      ['version', run.harness_version], ['shard', run.shard || '1/1'], ['inventory', props.inventory], ['host', run.hostname]];
    h.appendChild(el('div', { 'class': 'meta' }, meta.filter(function (m) { return m[1]; }).map(function (m) {
      return el('span', {}, [m[0] + ': ' + m[1]]);
    })));
  })();

  // ---- the table and its filters ----
  var rows = document.getElementById('rows');
  var sel = { outcome: document.getElementById('f-outcome'), board: document.getElementById('f-board'),
              scenario: document.getElementById('f-scenario') };
  function fill(select, values) {
    Object.keys(values).sort().forEach(function (v) { select.appendChild(el('option', { value: v }, [v || '(none)'])); });
  }
  var outcomes = {}, boards = {}, scenarios = {};
  var trs = cases.map(function (c, i) {
    var o = outcomeOf(c);
    outcomes[o] = 1; boards[c.b] = 1; scenarios[c.s] = 1;
    var tr = el('tr', { 'class': 'case', id: 'row-' + i, 'data-outcome': o, 'data-board': c.b, 'data-scenario': c.s }, [
      el('td', {}, [el('span', { 'class': 'badge b-' + o }, [o])]), el('td', {}, [c.s]), el('td', {}, [c.b]),
      el('td', {}, [secs(c.d)]), el('td', { 'class': 'msg', title: c.m || '' }, [c.o === 'passed' ? '' : (c.m || '')])]);
    tr.addEventListener('click', function () { setState({ 'case': String(i) }); });
    rows.appendChild(tr);
    return tr;
  });
  fill(sel.outcome, outcomes); fill(sel.board, boards); fill(sel.scenario, scenarios);

  function readState() {
    var state = {};
    var hash = location.hash.replace(/^#/, '');
    if (hash.indexOf('=') < 0) return null;
    hash.split('&').forEach(function (kv) {
      var at = kv.indexOf('=');
      if (at > 0) state[decodeURIComponent(kv.slice(0, at))] = decodeURIComponent(kv.slice(at + 1));
    });
    return state;
  }
  var current = {};
  function setState(change) {
    for (var k in change) current[k] = change[k];
    var parts = [];
    ['outcome', 'board', 'scenario', 'case'].forEach(function (k) {
      if (current[k]) parts.push(k + '=' + encodeURIComponent(current[k]));
    });
    history.replaceState(null, '', parts.length ? '#' + parts.join('&') : location.pathname);
    apply();
  }
  function matches(c, state) {
    return (!state.outcome || outcomeOf(c) === state.outcome || (state.outcome === 'passed' && c.o === 'passed')) &&
           (!state.board || c.b === state.board) && (!state.scenario || c.s === state.scenario);
  }
  function applyFilter(state) {
    var shown = 0;
    trs.forEach(function (tr, i) {
      if (matches(cases[i], state)) { tr.removeAttribute('hidden'); shown++; } else { tr.setAttribute('hidden', ''); }
    });
    return shown;
  }
  function apply() {
    sel.outcome.value = current.outcome || ''; sel.board.value = current.board || ''; sel.scenario.value = current.scenario || '';
    var shown = applyFilter(current);
    document.getElementById('shown').textContent = shown + ' of ' + cases.length + ' cases';
    var open = current['case'] != null && current['case'] !== '' ? Number(current['case']) : -1;
    trs.forEach(function (tr, i) { tr.classList.toggle('open', i === open); });
    if (open >= 0 && open < cases.length) showCase(open);
  }
  Object.keys(sel).forEach(function (k) {
    sel[k].addEventListener('change', function () { var c = {}; c[k] = sel[k].value; setState(c); });
  });

  // ---- one case ----
  function timeline(c, i) {
    var events = [c.t, c.t + Math.max(c.d || 0, 1)];
    (c.st || []).forEach(function (s) { events.push(s[3], s[3] + s[4]); });
    (c.sm || []).forEach(function (m) { events.push(m[1]); });
    (c.x || []).forEach(function (x) { if (x.t != null) events.push(x.t); });
    var t0 = Math.min.apply(null, events), t1 = Math.max.apply(null, events);
    if (t1 <= t0) t1 = t0 + 1;
    var W = 900, L = 70, R = 10, laneH = 26, lanes = ['steps', 'serial', 'network', 'resets'];
    var H = 24 + lanes.length * laneH + 18;
    function x(t) { return L + (W - L - R) * (t - t0) / (t1 - t0); }
    var g = svg('svg', { 'class': 'timeline', viewBox: '0 0 ' + W + ' ' + H, 'data-case': String(i), role: 'img' });
    g.appendChild(svg('title', {}, ['timeline: milliseconds since the run started']));
    lanes.forEach(function (name, k) {
      var y = 20 + k * laneH;
      g.appendChild(svg('text', { x: 4, y: y + 16, fill: '#57606a' }, [name]));
      g.appendChild(svg('line', { x1: L, x2: W - R, y1: y + laneH - 2, y2: y + laneH - 2, stroke: '#eaeef2' }));
    });
    for (var n = 0; n <= 4; n++) {
      var t = t0 + (t1 - t0) * n / 4;
      g.appendChild(svg('text', { x: x(t), y: 12, 'text-anchor': n === 0 ? 'start' : n === 4 ? 'end' : 'middle', fill: '#8c959f' },
                        ['+' + Math.round(t) + ' ms']));
    }
    var laneY = function (k) { return 20 + k * laneH + 4; };
    (c.st || []).forEach(function (s) {
      var color = s[2] === 'passed' ? 'var(--pass)' : s[2] === 'skipped' ? 'var(--skip)' : 'var(--fail)';
      var r = svg('rect', { x: x(s[3]), y: laneY(0), width: Math.max(2, x(s[3] + s[4]) - x(s[3])), height: laneH - 10,
                            fill: color, 'class': 'step step-' + s[2] });
      r.appendChild(svg('title', {}, [s[0] + ' (' + s[1] + ', ' + s[2] + ', ' + s[4] + ' ms) ' + s[5]]));
      g.appendChild(r);
      if (s[1] === 'reset') {
        var m = svg('path', { d: 'M' + x(s[3]) + ' ' + laneY(3) + ' l5 ' + (laneH - 10) + ' l-10 0 z', fill: '#0969da', 'class': 'reset' });
        m.appendChild(svg('title', {}, ['reset at +' + s[3] + ' ms: ' + s[0]]));
        g.appendChild(m);
      }
    });
    var states = (c.sm || []).filter(function (m) { return m[0] === 'state'; });
    var palette = ['#ddf4ff', '#dafbe1', '#fff8c5', '#fbefff', '#ffebe9', '#eaeef2'];
    states.forEach(function (m, k) {
      var end = k + 1 < states.length ? states[k + 1][1] : t1;
      var r = svg('rect', { x: x(m[1]), y: laneY(1), width: Math.max(2, x(end) - x(m[1])), height: laneH - 10,
                            fill: palette[k % palette.length], stroke: '#afb8c1', 'class': 'state' });
      r.appendChild(svg('title', {}, [m[2] + ' from +' + m[1] + ' ms' + (m[4] ? ': ' + m[4] : '') + ' (line ' + m[3] + ')']));
      g.appendChild(r);
      if (x(end) - x(m[1]) > 60) g.appendChild(svg('text', { x: x(m[1]) + 3, y: laneY(1) + 12, fill: '#24292f' }, [m[2]]));
    });
    (c.sm || []).filter(function (m) { return m[0] === 'event'; }).forEach(function (m) {
      var d = svg('circle', { cx: x(m[1]), cy: laneY(1) + (laneH - 10) / 2, r: 3.5, fill: '#0969da', 'class': 'event' });
      d.appendChild(svg('title', {}, [m[2] + ' at +' + m[1] + ' ms' + (m[4] ? ': ' + m[4] : '') + ' (line ' + m[3] + ')']));
      g.appendChild(d);
    });
    (c.x || []).forEach(function (e) {
      if (e.t == null) return;
      var d = svg('rect', { x: x(e.t) - 4, y: laneY(2) + 2, width: 8, height: laneH - 14, rx: 2,
                            fill: e.fault ? 'var(--fail)' : 'var(--pass)', 'class': e.fault ? 'exchange fault' : 'exchange' });
      d.appendChild(svg('title', {}, [(e.k || '') + ' ' + (e.q || '') + ' -> ' + (e.st != null ? e.st : '-') +
                                      (e.by ? ' (' + e.by + ')' : '') + ' at +' + e.t + ' ms']));
      g.appendChild(d);
    });
    if (c.ft != null) {
      var fx = x(c.ft);
      var mark = svg('g', { id: 'failure-marker', 'class': 'failure-marker' });
      mark.appendChild(svg('line', { x1: fx, x2: fx, y1: 16, y2: H - 16, stroke: 'var(--fail)', 'stroke-width': 2 }));
      mark.appendChild(svg('text', { x: Math.min(fx + 4, W - 200), y: H - 4, fill: 'var(--fail)' },
                           ['\u2716 failed at ' + (c.loc || ('+' + c.ft + ' ms'))]));
      mark.appendChild(svg('title', {}, ['failure at +' + c.ft + ' ms: ' + (c.m || '')]));
      g.appendChild(mark);
    }
    return g;
  }

  function showCase(i) {
    var c = cases[i];
    var d = document.getElementById('detail');
    d.innerHTML = '';
    var o = outcomeOf(c);
    d.appendChild(el('h2', {}, [el('span', { 'class': 'badge b-' + o }, [o]), ' ' + c.n]));
    var idp = c.p || {};
    var keys = ['board', 'firmware_version', 'library_version', 'chip', 'mac', 'port', 'dialect', 'simulated'];
    Object.keys(idp).forEach(function (k) { if (keys.indexOf(k) < 0) keys.push(k); });
    d.appendChild(el('div', { 'class': 'identity' }, keys.filter(function (k) { return idp[k]; }).map(function (k) {
      return el('span', {}, [k + ': ' + idp[k]]);
    }).concat([el('span', {}, ['file: ' + c.f]), el('span', {}, ['started: +' + c.t + ' ms']), el('span', {}, ['took: ' + secs(c.d)])])));
    if (c.o === 'failed' || c.o === 'error' || c.o === 'skipped') {
      var box = el('div', { 'class': 'failure' }, [
        el('div', {}, [el('span', { 'class': 'where', id: 'failure-location' }, [c.loc || '(no location)']), ' ' + (c.m || '')])]);
      if (c.ex || c.ac) {
        box.appendChild(el('div', { 'class': 'sides' }, [
          el('div', {}, [el('h4', {}, ['expected']), el('pre', { 'class': 'expected' }, [c.ex || ''])]),
          el('div', {}, [el('h4', {}, ['actual']), el('pre', { 'class': 'actual' }, [c.ac || ''])])]));
      } else if (c.dt) {
        box.appendChild(el('pre', {}, [c.dt]));
      }
      d.appendChild(box);
    }
    d.appendChild(timeline(c, i));
    var links = c.l || {};
    var files = el('div', { 'class': 'files' }, []);
    [['text', 'serial log'], ['raw', 'raw bytes'], ['exchanges', 'exchanges'], ['variables', 'variables']].forEach(function (f) {
      if (links[f[0]]) files.appendChild(el('a', { href: links[f[0]] }, [f[1]]));
    });
    (c.at || []).forEach(function (a, k) {
      if (a.text) files.appendChild(el('a', { href: a.text, title: a.m }, ['attempt ' + (k + 1) + ' (' + a.o + ') log']));
    });
    d.appendChild(files);
    if ((c.x || []).length) {
      d.appendChild(el('h3', {}, ['Exchanges']));
      var tb = el('tbody', {}, []);
      c.x.forEach(function (e) {
        tb.appendChild(el('tr', { 'class': e.fault ? 'fault' : '' }, [el('td', {}, ['+' + e.t + ' ms']), el('td', {}, [e.k || '']),
          el('td', {}, [e.q || '']), el('td', {}, [e.st != null ? String(e.st) : '']), el('td', {}, [e.by || '']),
          el('td', {}, [e.a ? el('pre', {}, [e.a]) : ''])]));
      });
      d.appendChild(el('table', { 'class': 'x' }, [el('thead', {}, [el('tr', {}, ['at', 'kind', 'request', 'status', 'answered by', 'answer'].map(function (h) { return el('th', {}, [h]); }))]), tb]));
    }
    if (c.lx && c.lx.text != null) {
      var lx = c.lx;
      d.appendChild(el('h3', {}, [lx.complete ? 'Serial log' : 'Serial log, around the failure (' + lx.total_bytes + ' bytes in all: ',
        lx.complete ? '' : el('a', { href: links.text || '#' }, ['full file']), lx.complete ? '' : ')']));
      var log = el('div', { 'class': 'log' }, []);
      lx.text.split('\n').forEach(function (line, k) {
        if (k === lx.text.split('\n').length - 1 && line === '') return;
        var n = lx.first_line + k, id = 'c' + i + '-L' + n;
        log.appendChild(el('div', { id: id }, [el('a', { href: '#' + id }, [String(n)]), line]));
      });
      d.appendChild(log);
    } else if (links.text) {
      d.appendChild(el('p', {}, [el('a', { href: links.text }, ['serial log'])]));
    }
  }

  function route() {
    var state = readState();
    var line = /^#c(\d+)-L(\d+)$/.exec(location.hash);
    if (line) {
      current['case'] = line[1];
      apply();
      var target = document.getElementById(location.hash.slice(1));
      if (target) target.scrollIntoView();
      return;
    }
    current = state || {};
    if (current['case'] == null) {
      // Triage starts at the first failure.
      for (var i = 0; i < cases.length; i++) {
        if ((cases[i].o === 'failed' || cases[i].o === 'error') && matches(cases[i], current)) { current['case'] = String(i); break; }
      }
    }
    apply();
  }
  window.addEventListener('hashchange', route);
  route();

  // ---- self-check: the page says in its own DOM whether it works (read by tests and by people) ----
  (function selfCheck() {
    var problems = [];
    if (trs.length !== cases.length) problems.push('rows ' + trs.length + ' != cases ' + cases.length);
    var failed = cases.filter(function (c) { return c.o === 'failed'; }).length;
    var saved = current;
    var shown = applyFilter({ outcome: 'failed' });
    if (shown !== failed) problems.push('filter outcome=failed shows ' + shown + ' of ' + failed);
    applyFilter(saved);
    var opened = cases[Number(current['case'])];
    if (opened && (opened.o === 'failed' || opened.o === 'error') && !document.getElementById('failure-marker'))
      problems.push('the open failed case has no failure marker');
    problems = problems.concat(errors);
    var out = document.getElementById('self-check');
    out.setAttribute('data-status', problems.length ? 'fail' : 'ok');
    out.textContent = problems.length ? problems.join('; ') : 'ok';
  })();
})();
</script>
</body>
</html>
)HTML";

}  // namespace provhil::report::detail::html_page
