// etcd-autopsy visual report: draws the data embedded in #autopsy-data.
// No network, no libraries. After drawing, each section records what it drew in data-*
// attributes (read back by the browser tests), and <html data-ready="1"> marks the end.
(function () {
  'use strict';
  var doc = document;
  var root = doc.documentElement;
  var data = JSON.parse(doc.getElementById('autopsy-data').textContent);
  var SVG = 'http://www.w3.org/2000/svg';

  function el(tag, attrs, parent, text) {
    var e = doc.createElement(tag);
    setAttrs(e, attrs);
    if (text !== undefined) { e.textContent = text; }
    if (parent) { parent.appendChild(e); }
    return e;
  }
  function sv(tag, attrs, parent, text) {
    var e = doc.createElementNS(SVG, tag);
    setAttrs(e, attrs);
    if (text !== undefined) { e.textContent = text; }
    if (parent) { parent.appendChild(e); }
    return e;
  }
  function setAttrs(e, attrs) {
    if (!attrs) { return; }
    Object.keys(attrs).forEach(function (k) {
      if (attrs[k] !== undefined && attrs[k] !== null) { e.setAttribute(k, String(attrs[k])); }
    });
  }
  function clear(e) { while (e.firstChild) { e.removeChild(e.firstChild); } }
  // The same units as the text report (binary, one decimal).
  function human(n) {
    var units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
    var v = Number(n) || 0;
    var i = 0;
    while (v >= 1024 && i + 1 < units.length) { v /= 1024; i += 1; }
    return i === 0 ? String(n) + ' B' : v.toFixed(1) + ' ' + units[i];
  }
  function pct(x) {
    if (x > 0 && x < 0.01) { return '<1%'; }
    return Math.round(x * 100) + '%';
  }
  function num(x) { return (x === null || x === undefined) ? '-' : String(x); }
  function width(e, fallback) {
    var w = e.clientWidth || (e.parentNode && e.parentNode.clientWidth) || fallback;
    return Math.max(320, Math.floor(w));
  }

  // Tooltip shared by every drawing.
  var tip = doc.getElementById('tip');
  function showTip(ev, text) {
    if (!tip) { return; }
    tip.textContent = text;
    tip.hidden = false;
    var x = ev.clientX + 14;
    var y = ev.clientY + 14;
    var w = tip.offsetWidth;
    var h = tip.offsetHeight;
    if (x + w > window.innerWidth) { x = Math.max(0, ev.clientX - w - 8); }
    if (y + h > window.innerHeight) { y = Math.max(0, ev.clientY - h - 8); }
    tip.style.left = x + 'px';
    tip.style.top = y + 'px';
  }
  function hideTip() { if (tip) { tip.hidden = true; } }
  function hover(e, textFn) {
    e.addEventListener('mousemove', function (ev) { showTip(ev, textFn(ev)); });
    e.addEventListener('mouseleave', hideTip);
  }

  function fact(box, label, value, bad, wide) {
    var f = el('div', { 'class': 'fact' + (bad ? ' bad' : '') + (wide ? ' wide' : '') }, box);
    el('b', null, f, label);
    el('span', null, f, value);
  }

  function copyButtons() {
    Array.prototype.forEach.call(doc.querySelectorAll('button.copy'), function (b) {
      b.addEventListener('click', function () {
        var text = b.getAttribute('data-copy') || '';
        var done = function () { b.textContent = 'copied'; };
        if (navigator.clipboard && navigator.clipboard.writeText) {
          navigator.clipboard.writeText(text).then(done, function () { select(b); });
        } else {
          select(b);
        }
      });
    });
    function select(b) {
      var code = b.parentNode.querySelector('code');
      var r = doc.createRange();
      r.selectNodeContents(code);
      var s = window.getSelection();
      s.removeAllRanges();
      s.addRange(r);
    }
  }

  // ---- report: facts -------------------------------------------------------------
  function drawFacts(r) {
    var box = doc.getElementById('facts');
    var m = r.member || {};
    fact(box, 'member', m.member_id_hex || '-');
    fact(box, 'cluster', m.cluster_id_hex || '-');
    fact(box, 'revision', num(r.revision));
    fact(box, 'compacted at', r.compact_revision < 0 ? 'never' : num(r.compact_revision));
    fact(box, 'consistent index', num(r.consistent_index));
    var alarms = (r.alarms || []).map(function (a) { return a.alarm; });
    fact(box, 'alarms', alarms.length ? alarms.join(', ') : 'none', alarms.length > 0);
    fact(box, 'db size', human(r.division.db_size), r.space.quota.exceeded);
    fact(box, 'keys', r.keys.live + ' live of ' + r.keys.distinct + ', ' + r.keys.revisions + ' revisions');
    if (r.wal) {
      fact(box, 'wal', r.wal.segments + ' segment(s), entries ' + num(r.wal.first_index) + '..' +
        num(r.wal.last_index) + ', commit ' + num(r.wal.commit), r.wal.damage, true);
    }
    box.setAttribute('data-drawn', '1');
  }

  // ---- labels that fit ------------------------------------------------------------
  // Keeps an SVG text inside [lo, hi] horizontally: moved left, or anchored at lo when it is
  // wider than the room. Returns its width.
  function fitX(t, lo, hi) {
    var w = t.getComputedTextLength();
    var x = Number(t.getAttribute('x'));
    var anchor = t.getAttribute('text-anchor') || 'start';
    var start = anchor === 'end' ? x - w : (anchor === 'middle' ? x - w / 2 : x);
    start = Math.max(lo, Math.min(start, hi - w));
    t.setAttribute('text-anchor', 'start');
    t.setAttribute('x', start);
    return w;
  }
  // Places texts in rows: each goes into the first row where it overlaps no text placed
  // before it (6 px apart), kept inside [0, W]. A text that finds no room is removed when
  // `optional` (its mark keeps its hover), else put in the last row. Returns the row, or -1.
  function rowPlacer(W, ys) {
    var taken = ys.map(function () { return []; });
    var used = 0;
    return {
      place: function (t, optional) {
        var w = fitX(t, 0, W);
        var x = Number(t.getAttribute('x'));
        for (var r = 0; r < ys.length; r += 1) {
          var free = taken[r].every(function (s) { return x + w + 6 <= s[0] || x >= s[1] + 6; });
          if (!free && r === ys.length - 1 && optional) {
            t.parentNode.removeChild(t);
            return -1;
          }
          if (free || r === ys.length - 1) {
            taken[r].push([x, x + w]);
            t.setAttribute('y', ys[r]);
            used = Math.max(used, r + 1);
            return r;
          }
        }
        return 0;
      },
      used: function () { return used; }
    };
  }

  // ---- report: quota gauge -------------------------------------------------------
  function drawGauge(r) {
    var sec = doc.getElementById('gauge');
    var svg = doc.getElementById('gauge-svg');
    var legend = sec.querySelector('.legend');
    clear(legend);
    var s = r.space;
    var d = r.division;
    var quota = s.quota.bytes;
    var bars = [
      ['db size', s.db_size, 'db-size'],
      ['in use', s.bytes_in_use, 'in-use'],
      ['after defrag', s.predicted_defrag_size, 'after-defrag'],
      ['after compaction + defrag', s.compaction.predicted_size_after, 'after-compaction']
    ];
    var W = width(svg, 900);
    // Narrow windows: each label on its own line above its bar, the bars the full width.
    var narrow = W < 600;
    var left = narrow ? 0 : 190;
    var right = narrow ? 24 : 120;
    var rowH = narrow ? 36 : 26;
    var labelDy = narrow ? 11 : 15;
    var barDy = narrow ? 15 : 3;
    var top = narrow ? 38 : 28;
    // A db far below its quota would draw as slivers: then the scale ends past the db
    // size and the quota is marked off the scale.
    var quotaOnScale = s.db_size >= 0.2 * quota;
    var maxV = (quotaOnScale ? Math.max(quota, s.db_size, 1) : Math.max(s.db_size, 1)) * 1.04;
    var x = function (v) { return left + (W - left - right) * Math.min(v, maxV) / maxV; };
    // Division of db size: live / history / overhead / free.
    var parts = [
      ['live data', d.live_bytes, '#2e9d5b'],
      ['history', d.history_bytes, '#d0453a'],
      ['overhead', d.overhead_bytes, '#8a94a6'],
      ['free pages', d.free_bytes, '#e8c547']
    ];
    sv('text', { x: 0, y: narrow ? 11 : 16, 'class': 'gauge-label' }, svg, 'db size divides into');
    var px = left;
    var divY = narrow ? 15 : 4;
    parts.forEach(function (p) {
      var w = x(p[1]) - left;
      var rect = sv('rect', { x: px, y: divY, width: Math.max(0, w), height: 16, fill: p[2], 'data-part': p[0], 'data-bytes': p[1] }, svg);
      hover(rect, function () { return p[0] + ': ' + human(p[1]) + ' (' + pct(d.db_size ? p[1] / d.db_size : 0) + ' of db size)'; });
      px += Math.max(0, w);
      // The legend is HTML: it wraps at any width.
      var item = el('span', { 'data-part': p[0] }, legend);
      var sw = el('span', { 'class': 'sw' }, item);
      sw.style.background = p[2];
      item.appendChild(doc.createTextNode(p[0] + ' ' + human(p[1])));
    });
    bars.forEach(function (b, i) {
      var y = top + i * rowH;
      sv('text', { x: 0, y: y + labelDy, 'class': 'gauge-label' }, svg, b[0]);
      var over = b[1] > quota;
      var bx = x(b[1]);
      var rect = sv('rect', {
        x: left, y: y + barDy, width: Math.max(1, bx - left), height: 16,
        fill: over ? '#d0453a' : (i === 0 ? '#2f6fd0' : '#7aa5e6'),
        'class': 'gauge-bar', 'data-name': b[2], 'data-bytes': b[1]
      }, svg);
      hover(rect, function () { return b[0] + ': ' + human(b[1]) + ' = ' + pct(b[1] / Math.max(quota, 1)) + ' of the quota'; });
      // The figure right of the bar, or inside its end when there is no room.
      var t = sv('text', { x: bx + 6, y: y + barDy + 12, 'class': 'gauge-value' }, svg, human(b[1]) + '  ' + pct(b[1] / Math.max(quota, 1)));
      var tw = t.getComputedTextLength();
      if (bx + 6 + tw > W - 2) {
        if (bx - left > tw + 8) {
          t.setAttribute('x', bx - tw - 4);
          t.setAttribute('fill', '#ffffff');
        } else {
          fitX(t, 0, W);
        }
      }
    });
    var below = top + bars.length * rowH + (narrow ? 4 : 0);
    var qx = quotaOnScale ? x(quota) : W - 12;
    sv('line', { x1: qx, x2: qx, y1: top - 4, y2: below + 4, stroke: '#1d2330', 'stroke-width': 2, 'stroke-dasharray': '5 3', 'class': 'quota-line' }, svg);
    var place = rowPlacer(W, [below + 18, below + 32, below + 46]);
    place.place(sv('text', { x: Math.min(qx, W), y: below + 18, 'text-anchor': 'end', 'class': 'gauge-quota' }, svg,
      'quota ' + human(quota) + (quotaOnScale ? '' : ' (off the scale: the db is ' + pct(s.quota.used) + ' of it) \u2192')));
    // NOSPACE raised below the quota assumed here: the member's own quota is at most
    // about the db size (the report's quota_inferred_max).
    var inferred = r.quota_inferred_max;
    if (inferred !== null && inferred !== undefined) {
      var ix = x(inferred);
      sv('line', { x1: ix, x2: ix, y1: top - 4, y2: below + 4, stroke: '#d0453a', 'stroke-width': 2, 'stroke-dasharray': '2 2', 'class': 'inferred-quota' }, svg);
      place.place(sv('text', { x: Math.max(0, ix - 4), y: below + 31, 'text-anchor': 'end', fill: '#d0453a', 'class': 'gauge-inferred' }, svg,
        'NOSPACE raised: this member\'s quota is at most about ' + human(inferred)));
    }
    var H = below + 18 + (place.used() - 1) * 14 + 8;
    svg.setAttribute('viewBox', '0 0 ' + W + ' ' + H);
    svg.setAttribute('height', H);
    sec.querySelector('.note').textContent = 'db size ' + human(s.db_size) + ' of a quota of ' + human(quota) +
      ' (' + pct(s.quota.used) + ')' + (s.quota.exceeded ? ': over the quota, etcd raises NOSPACE' : '') +
      (r.nospace ? '; the member is out of space' : '') + '.';
    setAttrs(sec, {
      'data-drawn': '1', 'data-bars': bars.length, 'data-quota': quota, 'data-db-size': s.db_size,
      'data-in-use': s.bytes_in_use, 'data-after-defrag': s.predicted_defrag_size,
      'data-after-compaction': s.compaction.predicted_size_after, 'data-quota-on-scale': quotaOnScale ? '1' : '0',
      'data-inferred-quota': inferred === null || inferred === undefined ? '' : inferred,
      'data-narrow': narrow ? '1' : '0'
    });
  }

  // ---- report: treemap -----------------------------------------------------------
  // Tree nodes are arrays: [name, bytes, live_bytes, keys, live_keys, revisions, other, kube, children...];
  // kube is null or [resource, resource as kubectl names it, kind, objects, live value bytes,
  // history value bytes, managedFields bytes, encrypted objects] (names null when several).
  function kids(n) { return n.slice(8).filter(function (c) { return c[1] > 0; }); }
  function kubeAttrs(n, attrs) {
    var k = n[7];
    if (!k) { return attrs; }
    return Object.assign(attrs, {
      'data-resource': k[0] === null ? undefined : k[0], 'data-resource-name': k[1] === null ? undefined : k[1],
      'data-kind': k[2] === null ? undefined : k[2], 'data-objects': k[3], 'data-k8s-live-bytes': k[4],
      'data-k8s-history-bytes': k[5], 'data-managed-fields-bytes': k[6]
    });
  }
  // What the Kubernetes lens says of a node, one line each.
  function kubeText(n) {
    var k = n[7];
    if (!k) { return ''; }
    var lines = [];
    if (k[1] !== null && k[1] !== '') { lines.push('resource: ' + k[1]); }
    lines.push('kind: ' + (k[2] === null ? 'several' : (k[2] === '' ? '(not decoded)' : k[2])));
    lines.push('objects: ' + k[3] + (k[7] ? ' (' + k[7] + ' encrypted)' : ''));
    lines.push('values (as k8s counts them): live ' + human(k[4]) + ', history ' + human(k[5]));
    lines.push('managedFields: ' + human(k[6]) + ' (' + pct(k[4] ? k[6] / k[4] : 0) + ' of live)');
    return '\n' + lines.join('\n');
  }
  // The second line of a label: the resource and kind.
  function kubeLabel(n) {
    var k = n[7];
    if (!k) { return ''; }
    var parts = [];
    if (k[2]) { parts.push(k[2]); }
    // The kubectl name says more than the key's segment only when it carries the group.
    if (k[1] && k[1].indexOf('.') > 0) { parts.push(k[1]); }
    if (k[6]) { parts.push('managedFields ' + human(k[6])); }
    return parts.join(' \u00b7 ');
  }
  function historyShare(n) { return n[1] > 0 ? Math.max(0, n[1] - n[2]) / n[1] : 0; }
  function colour(n) {
    // green (all live) .. red (all history)
    var h = historyShare(n);
    var hue = Math.round(130 * (1 - h));
    return 'hsl(' + hue + ', 55%, ' + (n[6] ? 52 : 40) + '%)';
  }
  function nodeText(n, path) {
    var hist = Math.max(0, n[1] - n[2]);
    return (path ? path : n[0]) + (n[6] ? '\n(' + n[3] + ' smaller keys folded together)' : '') +
      '\nbytes kept (all revisions): ' + human(n[1]) +
      '\nlive bytes: ' + human(n[2]) + '\nhistory bytes: ' + human(hist) + ' (' + pct(historyShare(n)) + ')' +
      '\nkeys: ' + n[3] + ' (' + n[4] + ' live)\nrevisions: ' + n[5] + kubeText(n);
  }
  // Squarified layout of items (sorted by value, largest first) into the rectangle.
  function squarify(items, x, y, w, h) {
    var out = [];
    var total = 0;
    items.forEach(function (it) { total += it[1]; });
    if (total <= 0 || w <= 0 || h <= 0) { return out; }
    var scale = (w * h) / total;
    var rest = items.slice();
    var row = [];
    function worst(r, side) {
      if (!r.length) { return Infinity; }
      var s = 0; var mx = 0; var mn = Infinity;
      r.forEach(function (it) { var a = it[1] * scale; s += a; mx = Math.max(mx, a); mn = Math.min(mn, a); });
      var s2 = s * s; var side2 = side * side;
      return Math.max(side2 * mx / s2, s2 / (side2 * mn));
    }
    function lay(r) {
      var s = 0;
      r.forEach(function (it) { s += it[1] * scale; });
      if (w >= h) {
        var cw = s / h; var cy = y;
        r.forEach(function (it) { var ch = it[1] * scale / cw; out.push([it, x, cy, cw, ch]); cy += ch; });
        x += cw; w -= cw;
      } else {
        var rh = s / w; var cx = x;
        r.forEach(function (it) { var c = it[1] * scale / rh; out.push([it, cx, y, c, rh]); cx += c; });
        y += rh; h -= rh;
      }
    }
    while (rest.length) {
      var side = Math.min(w, h);
      var next = row.concat([rest[0]]);
      if (!row.length || worst(next, side) <= worst(row, side)) {
        row = next; rest.shift();
      } else {
        lay(row); row = [];
      }
    }
    if (row.length) { lay(row); }
    return out;
  }
  var zoom = [];
  function drawTreemap(tree, folded, depth) {
    var sec = doc.getElementById('treemap');
    var box = doc.getElementById('treemap-box');
    var note = sec.querySelector('.note');
    if (!tree || !kids(tree).length) {
      note.textContent = 'No keys in the key bucket.';
      setAttrs(sec, { 'data-drawn': '1', 'data-rects': 0, 'data-root-bytes': 0 });
      return;
    }
    if (!zoom.length) { zoom = [tree]; }
    var node = zoom[zoom.length - 1];
    clear(box);
    var W = box.clientWidth || 900;
    var H = box.clientHeight || 520;
    var cells = squarify(kids(node), 0, 0, W, H);
    var subs = 0;
    cells.forEach(function (c) {
      var n = c[0];
      var path = zoom.slice(1).map(function (z) { return z[0]; }).join('') + n[0];
      var div = el('div', kubeAttrs(n, {
        'class': 'tm-cell' + (n[6] ? ' tm-other' : ''),
        'data-name': n[0], 'data-bytes': n[1], 'data-live-bytes': n[2], 'data-keys': n[3], 'data-revisions': n[5]
      }), box);
      div.style.left = c[1] + 'px'; div.style.top = c[2] + 'px';
      div.style.width = Math.max(0, c[3]) + 'px'; div.style.height = Math.max(0, c[4]) + 'px';
      div.style.background = colour(n);
      // A sliver's borders alone would be wider than its share (and reach past the box).
      if (c[3] < 3 || c[4] < 3) { div.style.borderWidth = '0'; }
      var labelH = 0;
      if (c[3] > 36 && c[4] > 16) {
        var lab = el('div', { 'class': 'tm-label' }, div, (n[0] === '' ? "(no '/')" : n[0]) + ' ' + human(n[1]));
        labelH = 17;
        var kl = kubeLabel(n);
        if (kl && c[4] > 34) {
          el('span', { 'class': 'tm-kind' }, lab, kl);
          labelH = 31;
        }
      }
      var ch = kids(n);
      if (ch.length && c[3] > 40 && c[4] > 40) {
        squarify(ch, 2, labelH + 1, c[3] - 6, c[4] - labelH - 5).forEach(function (s) {
          if (s[3] < 2 || s[4] < 2) { return; }
          var sd = el('div', kubeAttrs(s[0], { 'class': 'tm-sub', 'data-name': s[0][0], 'data-bytes': s[0][1] }), div);
          sd.style.left = s[1] + 'px'; sd.style.top = s[2] + 'px';
          sd.style.width = s[3] + 'px'; sd.style.height = s[4] + 'px';
          sd.style.background = colour(s[0]);
          subs += 1;
        });
      }
      hover(div, function (ev) {
        // Name the grandchild under the pointer when there is one.
        var r = div.getBoundingClientRect();
        var px = ev.clientX - r.left; var py = ev.clientY - r.top;
        var hit = null;
        if (ch.length && c[3] > 40 && c[4] > 40) {
          squarify(ch, 2, labelH + 1, c[3] - 6, c[4] - labelH - 5).forEach(function (s) {
            if (px >= s[1] && px < s[1] + s[3] && py >= s[2] && py < s[2] + s[4]) { hit = s[0]; }
          });
        }
        return nodeText(n, path) + (hit ? '\n\n' + nodeText(hit, path + hit[0]) : '') +
          (ch.length ? '\n\nclick to zoom in' : '');
      });
      if (ch.length) {
        div.addEventListener('click', function () { zoom.push(n); hideTip(); drawTreemap(tree, folded, depth); });
      }
    });
    // Breadcrumbs: click to zoom out.
    var crumbs = sec.querySelector('.crumbs');
    clear(crumbs);
    zoom.forEach(function (z, i) {
      var label = i === 0 ? 'all keys' : z[0];
      if (i < zoom.length - 1) {
        var a = el('a', null, crumbs, label);
        a.addEventListener('click', function () { zoom = zoom.slice(0, i + 1); drawTreemap(tree, folded, depth); });
        crumbs.appendChild(doc.createTextNode(' / '));
      } else {
        el('span', null, crumbs, label);
      }
    });
    var first = cells.length ? cells[0][0] : null;
    note.textContent = 'Area: bytes each part keeps in the file (keys and values of all revisions); colour: share of them that is history (green all live, red all history). ' +
      'Level 1 is the prefix at depth ' + depth + ', then one level per "/"' +
      (tree[7] ? ': under /registry/ the resource (when the prefix is a group), the namespace, the object; hover shows the kind and managedFields' : '') +
      '. Click a rectangle to zoom in.' +
      (folded > 0 ? ' ' + folded + ' keys in small parts are folded into the rectangles named "other" to keep the file small.' : '');
    setAttrs(sec, {
      'data-drawn': '1', 'data-rects': cells.length, 'data-sub-rects': subs, 'data-level': zoom.length - 1,
      'data-root-bytes': node[1], 'data-folded-keys': folded,
      'data-largest-label': first ? first[0] : '', 'data-largest-bytes': first ? first[1] : 0
    });
  }

  // ---- report: page map ----------------------------------------------------------
  var PAGE_COLOURS = {
    meta: '#1d2330', freelist: '#6b4fa3', key_branch: '#2f6fd0', key_leaf_live: '#2e9d5b',
    key_leaf_history: '#d0453a', other_bucket: '#8a94a6', overflow: '#f08a3c', free: '#f2e6a6',
    unaccounted: '#ff00aa', past_high_water: '#e4e7ec'
  };
  var PAGE_WORDS = {
    meta: 'meta', freelist: 'freelist', key_branch: 'key bucket: branch', key_leaf_live: 'key bucket: leaf with live revisions',
    key_leaf_history: 'key bucket: leaf with only history', other_bucket: 'other buckets', overflow: 'overflow',
    free: 'free (defrag returns it)', unaccounted: 'neither reachable nor free', past_high_water: 'past the high-water mark'
  };
  function drawPageMap(pm, r) {
    var sec = doc.getElementById('pagemap');
    var canvas = doc.getElementById('pagemap-canvas');
    var legend = sec.querySelector('.legend');
    clear(legend);
    // pm.runs: a capital letter per class ('A' = classes[0]) and the run's cells in
    // base 36 (lower-case digits).
    var runs = [];
    var re = /([A-Z])([0-9a-z]+)/g;
    var mt;
    while ((mt = re.exec(pm.runs)) !== null) {
      runs.push(mt[1].charCodeAt(0) - 65, parseInt(mt[2], 36));
    }
    var cells = 0;
    var i;
    for (i = 1; i < runs.length; i += 2) { cells += runs[i]; }
    var W = width(sec, 900) - 30;
    var cs = Math.max(1, Math.min(12, Math.floor(Math.sqrt(W * 380 / Math.max(cells, 1)))));
    var cols = Math.max(1, Math.floor(W / cs));
    var rows = Math.max(1, Math.ceil(cells / cols));
    canvas.width = cols * cs;
    canvas.height = rows * cs;
    canvas.style.width = (cols * cs) + 'px';
    canvas.style.height = (rows * cs) + 'px';
    var ctx = canvas.getContext('2d');
    ctx.fillStyle = '#ffffff';
    ctx.fillRect(0, 0, canvas.width, canvas.height);
    var at = 0;
    var painted = 0;
    var starts = [];
    for (i = 0; i < runs.length; i += 2) {
      var cls = pm.classes[runs[i]];
      var len = runs[i + 1];
      starts.push(at);
      ctx.fillStyle = PAGE_COLOURS[cls] || '#000';
      // A run covers the end of one row, whole rows, then the start of a row.
      var c = at;
      var end = at + len;
      while (c < end) {
        var row = Math.floor(c / cols);
        var col = c % cols;
        var n = Math.min(end - c, cols - col);
        if (col === 0 && n === cols && end - c >= cols) {
          var whole = Math.floor((end - c) / cols);
          ctx.fillRect(0, row * cs, cols * cs, whole * cs);
          c += whole * cols;
          painted += whole * cols;
          continue;
        }
        ctx.fillRect(col * cs, row * cs, n * cs, cs);
        c += n;
        painted += n;
      }
      at = end;
    }
    // Cell borders when cells are large enough to see them.
    if (cs >= 5) {
      ctx.strokeStyle = 'rgba(255,255,255,0.55)';
      ctx.lineWidth = 1;
      ctx.beginPath();
      for (i = 0; i <= cols; i += 1) { ctx.moveTo(i * cs + 0.5, 0); ctx.lineTo(i * cs + 0.5, rows * cs); }
      for (i = 0; i <= rows; i += 1) { ctx.moveTo(0, i * cs + 0.5); ctx.lineTo(cols * cs, i * cs + 0.5); }
      ctx.stroke();
    }
    var counts = {};
    pm.classes.forEach(function (cl, k) {
      counts[cl] = pm.counts[k];
      if (!pm.counts[k]) { return; }
      var item = el('span', { 'data-class': cl, 'data-pages': pm.counts[k] }, legend);
      var sw = el('span', { 'class': 'sw' }, item);
      sw.style.background = PAGE_COLOURS[cl];
      item.appendChild(doc.createTextNode(PAGE_WORDS[cl] + ': ' + pm.counts[k] + ' (' + human(pm.counts[k] * pm.page_size) + ')'));
    });
    canvas.onmousemove = function (ev) {
      var rect = canvas.getBoundingClientRect();
      var cx = Math.floor((ev.clientX - rect.left) / cs);
      var cy = Math.floor((ev.clientY - rect.top) / cs);
      var cell = cy * cols + cx;
      if (cx < 0 || cx >= cols || cell >= cells) { hideTip(); return; }
      var lo = 0; var hi = starts.length - 1;
      while (lo < hi) { var mid = (lo + hi + 1) >> 1; if (starts[mid] <= cell) { lo = mid; } else { hi = mid - 1; } }
      var cl = pm.classes[runs[lo * 2]];
      var first = cell * pm.cell_pages;
      var last = Math.min(pm.file_pages, first + pm.cell_pages) - 1;
      showTip(ev, (pm.cell_pages > 1 ? 'pages ' + first + '-' + last + ': mostly ' : 'page ' + first + ': ') + PAGE_WORDS[cl]);
    };
    canvas.onmouseleave = hideTip;
    var free = counts.free || 0;
    sec.querySelector('.note').textContent = pm.file_pages + ' pages of ' + human(pm.page_size) +
      (pm.cell_pages > 1 ? ', drawn as cells of ' + pm.cell_pages + ' pages each (a cell takes the colour most of its pages have; the counts are exact)' : ', one cell per page') +
      '. ' + free + ' free pages (' + human(free * pm.page_size) + ') come back with a defrag, which would leave about ' +
      human(r.space.predicted_defrag_size) + '.';
    setAttrs(sec, {
      'data-drawn': '1', 'data-cells': cells, 'data-painted-cells': painted, 'data-cell-pages': pm.cell_pages,
      'data-pages': pm.file_pages, 'data-free-pages': free, 'data-counts': JSON.stringify(counts),
      'data-cell-size': cs, 'data-cols': cols
    });
  }

  // ---- report: WAL timeline ------------------------------------------------------
  var KIND_COLOURS = {
    no_op: '#c5cbd6', put: '#2f6fd0', delete_range: '#d0453a', txn: '#6b4fa3', compaction: '#e8c547',
    lease: '#2e9d5b', alarm: '#f08a3c', auth: '#8a5a2b', cluster: '#14a3a3', conf_change: '#1d2330', other: '#8a94a6'
  };
  function drawTimeline(t, r, snaps) {
    var sec = doc.getElementById('timeline');
    var svg = doc.getElementById('timeline-svg');
    var note = sec.querySelector('.note');
    var legend = sec.querySelector('.legend');
    clear(svg); clear(legend);
    if (!t) {
      note.textContent = 'No WAL: the input is a db file, not a data directory.';
      svg.setAttribute('height', 0);
      setAttrs(sec, { 'data-drawn': 'none', 'data-entries': 0 });
      return;
    }
    var W = width(svg, 900);
    var padL = 46; var padR = 20; var top = 36; var base = 150;
    var first = t.first_index === null ? 0 : t.first_index;
    var last = t.last_index === null ? first : t.last_index;
    var ci = r.consistent_index;
    var commit = t.hard_state ? t.hard_state[2] : null;
    var lo = first; var hi = last + 1;
    var x = function (i) { return padL + (W - padL - padR) * (Math.min(Math.max(i, lo), hi) - lo) / Math.max(1, hi - lo); };
    var maxBin = 1;
    t.bins.forEach(function (b) { var s = 0; b.counts.forEach(function (c) { s += c; }); maxBin = Math.max(maxBin, s); });
    var bw = Math.max(1, (W - padL - padR) * t.bin_width / Math.max(1, hi - lo));
    var drawnEntries = 0;
    t.bins.forEach(function (b) {
      var y = base;
      var bx = x(b.first_index);
      var total = 0;
      b.counts.forEach(function (c, k) {
        if (!c) { return; }
        var h = (base - top) * c / maxBin;
        y -= h;
        total += c;
        sv('rect', { x: bx, y: y, width: Math.max(1, bw - (bw > 3 ? 1 : 0)), height: h, fill: KIND_COLOURS[t.kinds[k]] || '#000' }, svg);
      });
      drawnEntries += total;
      var hit = sv('rect', { x: bx, y: top, width: Math.max(1, bw), height: base - top, fill: 'transparent' }, svg);
      hover(hit, function () {
        var lines = ['entries ' + b.first_index + '..' + (b.first_index + t.bin_width - 1) + ': ' + total];
        b.counts.forEach(function (c, k) { if (c) { lines.push('  ' + t.kinds[k] + ': ' + c); } });
        return lines.join('\n');
      });
    });
    sv('line', { x1: padL, x2: W - padR, y1: base + 0.5, y2: base + 0.5, stroke: '#1d2330' }, svg);
    // Labels go into rows (above the bars for snapshots, below the axis for the rest) so
    // none overlaps another or leaves the drawing.
    var above = rowPlacer(W, [top - 22, top - 8]);
    var belowRows = [];
    var i;
    for (i = 0; i < 8; i += 1) { belowRows.push(base + 14 + i * 14); }
    var below = rowPlacer(W, belowRows);
    below.place(sv('text', { x: padL, y: base + 14 }, svg, String(first)));
    below.place(sv('text', { x: W - padR, y: base + 14, 'text-anchor': 'end' }, svg, String(last)));
    sv('text', { x: 0, y: top + 8 }, svg, String(maxBin));
    sv('text', { x: 0, y: base }, svg, '0');
    var marks = 0;
    var lines = [];
    function mark(i, colour, label, rows, dash, text, optional) {
      var mx = x(i);
      var g = sv('g', { 'class': 'mark', 'data-index': i, 'data-label': label }, svg);
      var ln = sv('line', { x1: mx, x2: mx, y1: top - 6, y2: base, stroke: colour, 'stroke-width': 2, 'stroke-dasharray': dash || '' }, g);
      var tx = sv('text', { x: mx + 3, y: 0, fill: colour }, g, label);
      if (rows.place(tx, optional) >= 0) { lines.push([ln, tx, rows === above]); }
      hover(g, function () { return text || label; });
      marks += 1;
    }
    t.segments.forEach(function (s) {
      if (s.first_index === null) { return; }
      var g = sv('g', { 'class': 'segment', 'data-index': s.first_index }, svg);
      var sx = x(s.first_index);
      var ln = sv('line', { x1: sx, x2: sx, y1: base, y2: base + 10, stroke: '#8a94a6' }, g);
      var tx = sv('text', { x: sx + 2, y: 0, fill: '#5b6475' }, g, 'segment ' + s.name.slice(0, 16));
      if (below.place(tx, true) >= 0) { lines.push([ln, tx, false]); }
      hover(g, function () { return s.name + '\nfirst index ' + s.first_index + ', ' + s.records + ' records, ' + human(s.valid_bytes) + ' verified'; });
    });
    t.snapshots.forEach(function (s) {
      mark(s[0], '#6b4fa3', 'snapshot', above, '2 2', 'WAL snapshot record: index ' + s[0] + ', term ' + s[1], true);
    });
    (snaps || []).forEach(function (s) {
      if (s.index === null) { return; }
      mark(s.index, s.ok ? '#6b4fa3' : '#d0453a', '.snap', above, '6 2', s.name + ': index ' + s.index + ', term ' + num(s.term) + (s.ok ? '' : ' (damaged)'), true);
    });
    if (commit !== null) { mark(commit, '#1d2330', 'commit ' + commit, below, '', 'HardState: term ' + t.hard_state[0] + ', commit ' + commit); }
    if (ci !== null && ci !== undefined) { mark(ci, '#2e9d5b', 'db applied ' + ci, below, '4 3', "the db's consistent index: " + ci); }
    // Each marker's line reaches its label's row.
    lines.forEach(function (l) {
      var y = Number(l[1].getAttribute('y'));
      if (l[2]) { l[0].setAttribute('y1', y + 2); } else { l[0].setAttribute('y2', y - 9); }
    });
    var H = belowRows[Math.max(0, below.used() - 1)] + 8;
    svg.setAttribute('viewBox', '0 0 ' + W + ' ' + H);
    svg.setAttribute('height', H);
    var dmg = 0;
    t.damage.forEach(function (d) {
      var at = d.after_index === null ? first : d.after_index;
      var dx = x(at + 1);
      var g = sv('g', { 'class': 'damage', 'data-file': d.file, 'data-offset': d.offset === null ? '' : d.offset, 'data-kind': d.kind }, svg);
      sv('path', { d: 'M' + (dx - 7) + ' ' + (top - 4) + ' L' + (dx + 7) + ' ' + (top - 4) + ' L' + dx + ' ' + (top + 9) + ' Z', fill: '#d0453a' }, g);
      sv('line', { x1: dx, x2: dx, y1: top, y2: base, stroke: '#d0453a', 'stroke-width': 2 }, g);
      hover(g, function () { return 'damage: ' + d.kind + '\n' + d.file + (d.offset === null ? '' : ' at byte ' + d.offset) + '\n' + d.message; });
      dmg += 1;
    });
    t.kinds.forEach(function (k, i) {
      if (!t.totals[i]) { return; }
      var item = el('span', { 'data-kind': k, 'data-entries': t.totals[i] }, legend);
      var sw = el('span', { 'class': 'sw' }, item);
      sw.style.background = KIND_COLOURS[k];
      item.appendChild(doc.createTextNode(k + ': ' + t.totals[i]));
    });
    note.textContent = (t.first_index === null ? 'No entry could be read' : t.entries + ' entries, index ' + first + '..' + last) +
      ', in ' + t.segments.length + ' segment(s)' +
      (t.bin_width > 1 ? '; each bar covers ' + t.bin_width + ' indexes' : '') +
      (t.damage_count ? '; ' + t.damage_count + ' damage finding(s) (red markers: segment and byte offset on hover)' : '; no damage') + '.' +
      (t.snapshots.length || (snaps || []).length ? ' Purple lines: ' + t.snapshots.length + ' WAL snapshot record(s) (dotted) and ' + (snaps || []).length +
        ' .snap file(s) (dashed); a label is left out where there is no room for it, the line keeps its hover.' : '');
    setAttrs(sec, {
      'data-drawn': '1', 'data-entries': t.entries, 'data-drawn-entries': drawnEntries, 'data-bins': t.bins.length,
      'data-first-index': t.first_index === null ? '' : first, 'data-last-index': t.last_index === null ? '' : last,
      'data-commit': commit === null ? '' : commit,
      'data-consistent-index': ci === null || ci === undefined ? '' : ci, 'data-marks': marks, 'data-damage': dmg,
      'data-segments': t.segments.length
    });
  }

  // ---- members -------------------------------------------------------------------
  function drawMembers(m) {
    var box = doc.getElementById('members-box');
    var facts = doc.getElementById('facts');
    fact(facts, 'members', String(m.members.length));
    fact(facts, 'common revision', num(m.common_revision));
    fact(facts, 'HashKV compact revision', num(m.hash_compact_revision));
    fact(facts, 'agree', m.agree ? 'yes' : 'no', !m.agree);
    var t = el('table', { 'class': 'members' }, box);
    var cols = [['member', 'path'], ['id', 'member_id_hex'], ['cluster', 'cluster_id_hex'], ['name', 'name'], ['term', 'term'],
      ['commit', 'commit'], ['last', 'last_index'], ['applied', 'consistent_index'], ['restart', 'index_after_restart'],
      ['rev', 'revision'], ['compact', 'compact_revision'], ['hashkv', 'hash'], ['health', 'healthy']];
    var hr = el('tr', null, el('thead', null, t));
    cols.forEach(function (c) { el('th', null, hr, c[0]); });
    var tb = el('tbody', null, t);
    var best = m.most_committed || [];
    m.members.forEach(function (row) {
      var isBest = best.indexOf(row.path) >= 0;
      var tr = el('tr', { 'class': isBest ? 'best' : (row.healthy ? '' : 'damaged'), 'data-path': row.path }, tb);
      cols.forEach(function (c) {
        var v = row[c[1]];
        if (c[1] === 'healthy') { v = v ? 'ok' : 'DAMAGED'; }
        el('td', { 'data-label': c[0] }, tr, num(v));
      });
      if (row.problems && row.problems.length) {
        hover(tr, function () { return row.problems.join('\n'); });
      }
    });
    // Indexes of each member on one scale.
    var sec = doc.getElementById('members-chart');
    var svg = doc.getElementById('members-svg');
    var legend = sec.querySelector('.legend');
    var series = [['commit', 'commit', '#1d2330'], ['last_index', 'last WAL index', '#2f6fd0'],
      ['consistent_index', 'applied (db)', '#2e9d5b'], ['index_after_restart', 'after restart', '#e8c547']];
    series.forEach(function (s) {
      var item = el('span', null, legend);
      var sw = el('span', { 'class': 'sw' }, item);
      sw.style.background = s[2];
      item.appendChild(doc.createTextNode(s[1]));
    });
    var vals = [];
    m.members.forEach(function (row) { series.forEach(function (s) { if (row[s[0]] !== null) { vals.push(row[s[0]]); } }); });
    var mn = vals.length ? Math.min.apply(null, vals) : 0;
    var mx = vals.length ? Math.max.apply(null, vals) : 1;
    var lo = Math.max(0, mn - Math.max(1, Math.ceil((mx - mn) * 0.5)));
    var W = width(svg, 900);
    // Narrow windows: each member's name on its own line above its bars.
    var narrow = W < 600;
    var left = narrow ? 0 : 220; var right = narrow ? 8 : 70; var bh = 9; var gap = 14;
    var head = narrow ? 16 : 0;
    var rowH = series.length * bh + gap + head;
    var H = m.members.length * rowH + 30;
    svg.setAttribute('viewBox', '0 0 ' + W + ' ' + H);
    svg.setAttribute('height', H);
    var x = function (v) { return left + (W - left - right) * (v - lo) / Math.max(1, mx - lo); };
    var bars = 0;
    m.members.forEach(function (row, i) {
      var y0 = 10 + i * rowH;
      var label = (row.name || row.member_id_hex || '') + ' ' + row.path;
      var rev = 'rev ' + num(row.revision) + (row.hash === null ? '' : ', hash ' + row.hash);
      var lt = sv('text', { x: 0, y: narrow ? y0 + 2 : y0 + 2 * bh + 3, 'font-weight': best.indexOf(row.path) >= 0 ? 700 : 400 }, svg, label);
      var rt = sv('text', { x: 0, y: narrow ? y0 + 2 : y0 + 2 * bh + 3 }, svg, rev);
      var rw = rt.getComputedTextLength();
      // The name is shortened (middle out) to the room it has: the label column, or the
      // line less the revision and hash on its right.
      var room = narrow ? W - rw - 12 : left - 8;
      var cut = label.length;
      while (lt.getComputedTextLength() > room && cut > 4) {
        cut -= 2;
        lt.textContent = label.slice(0, Math.ceil(cut / 2)) + '\u2026' + label.slice(label.length - Math.floor(cut / 2));
      }
      series.forEach(function (s, k) {
        var v = row[s[0]];
        if (v === null) { return; }
        var rect = sv('rect', { x: left, y: y0 + head + k * bh, width: Math.max(1, x(v) - left), height: bh - 1, fill: s[2], 'data-member': row.path, 'data-series': s[0], 'data-value': v }, svg);
        hover(rect, function () { return row.path + '\n' + s[1] + ': ' + v; });
        bars += 1;
      });
      if (narrow) {
        rt.setAttribute('x', W - rw);
      } else {
        var end = x(Math.max(row.commit || lo, row.last_index || lo));
        // Right of the bars, or inside their end when there is no room.
        if (end + 4 + rw > W - 2) {
          rt.setAttribute('x', Math.max(left, end - rw - 4));
          rt.setAttribute('fill', '#ffffff');
        } else {
          rt.setAttribute('x', end + 4);
        }
      }
    });
    sv('text', { x: left, y: H - 4 }, svg, String(lo));
    sv('text', { x: W - right, y: H - 4, 'text-anchor': 'end' }, svg, String(mx));
    setAttrs(sec, { 'data-drawn': '1', 'data-members': m.members.length, 'data-bars': bars, 'data-most-committed': best.join('\n'), 'data-agree': m.agree ? '1' : '0' });
  }

  // ---- run -----------------------------------------------------------------------
  var failed = 0;
  function step(name, fn) {
    try {
      fn();
    } catch (e) {
      // Keep drawing the other parts; the error is still reported (and counted).
      failed += 1;
      var sec = doc.getElementById(name);
      if (sec) { sec.setAttribute('data-drawn', 'error'); }
      setTimeout(function () { throw e; }, 0);
    }
  }
  function drawAll() {
    if (data.schema === 'etcd-autopsy/report-html/v2') {
      var r = data.report;
      step('facts', function () { drawFacts(r); });
      step('gauge', function () { clear(doc.getElementById('gauge-svg')); drawGauge(r); });
      step('treemap', function () { drawTreemap(data.tree, data.tree_folded_keys, data.tree_depth); });
      step('pagemap', function () { drawPageMap(data.pagemap, r); });
      step('timeline', function () { drawTimeline(data.timeline, r, data.snap_files); });
    } else if (data.schema === 'etcd-autopsy/members-html/v1') {
      step('members-chart', function () { drawMembers(data.members); });
    }
  }
  drawAll();
  copyButtons();
  var timer = null;
  window.addEventListener('resize', function () {
    clearTimeout(timer);
    timer = setTimeout(function () {
      if (data.schema === 'etcd-autopsy/report-html/v2') {
        var r = data.report;
        step('gauge', function () { clear(doc.getElementById('gauge-svg')); drawGauge(r); });
        step('treemap', function () { drawTreemap(data.tree, data.tree_folded_keys, data.tree_depth); });
        step('pagemap', function () { drawPageMap(data.pagemap, r); });
        step('timeline', function () { drawTimeline(data.timeline, r, data.snap_files); });
      }
    }, 150);
  });
  root.setAttribute('data-failed-parts', String(failed));
  root.setAttribute('data-ready', '1');
})();
