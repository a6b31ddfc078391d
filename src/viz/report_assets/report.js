/* doubt report: everything the page does, from the manifest `DOUBT` that doubt inspect writes
 * inline. Float maps arrive as data scripts (STEM_files/data/S/I_T.js, one per tile of
 * M.tile pixels) calling doubtData() when the viewer needs them: base64 of binary16
 * little-endian planes (cls is uint8). */
(function () {
  'use strict';
  var M = DOUBT, FILES = encodeURIComponent(M.files), NS = M.sides.length, IMGS = M.images;
  var TILE = M.tile || 256;
  var MAPS = [
    {key: 'seg', data: 'cls', title: 'Segmentation', units: 'class'},
    {key: 'depth_color', data: 'depth_mean', title: 'Depth', units: 'm'},
    {key: 'depth_epistemic', data: 'depth_epistemic', title: 'Depth epistemic', units: 'm\u00b2'},
    {key: 'depth_aleatoric', data: 'depth_aleatoric', title: 'Depth aleatoric', units: 'm\u00b2'},
    {key: 'depth_total', data: 'depth_total', title: 'Depth total', units: 'm\u00b2'},
    {key: 'seg_entropy', data: 'seg_entropy', title: 'Seg entropy', units: 'nats'},
    {key: 'seg_aleatoric', data: 'seg_aleatoric', title: 'Seg aleatoric', units: 'nats'},
    {key: 'seg_mutual_info', data: 'seg_mutual_info', title: 'Seg mutual info', units: 'nats'},
    {key: 'seg_logit_var', data: 'seg_logit_var', title: 'Seg logit variance', units: 'logit\u00b2'}
  ];
  /* Read-out rows: every float plane, whatever map is shown. */
  var VALUES = [
    {key: 'cls', title: 'class', units: ''},
    {key: 'seg_prob', title: 'its probability', units: ''},
    {key: 'depth_mean', title: 'depth', units: 'm'},
    {key: 'depth_epistemic', title: 'depth epistemic', units: 'm\u00b2'},
    {key: 'depth_aleatoric', title: 'depth aleatoric', units: 'm\u00b2'},
    {key: 'depth_total', title: 'depth total', units: 'm\u00b2'},
    {key: 'seg_entropy', title: 'seg entropy', units: 'nats'},
    {key: 'seg_aleatoric', title: 'seg aleatoric', units: 'nats'},
    {key: 'seg_mutual_info', title: 'seg mutual info', units: 'nats'},
    {key: 'seg_logit_var', title: 'seg logit var', units: 'logit\u00b2'}
  ];
  var STAT_UNITS = {depth_mean: 'm', depth_epistemic: 'm\u00b2', depth_aleatoric: 'm\u00b2',
    depth_total: 'm\u00b2', seg_entropy: 'nats', seg_aleatoric: 'nats', seg_mutual_info: 'nats',
    seg_logit_var: 'logit\u00b2', no_depth: 'fraction'};
  var SIDE_NAME = NS === 2 ? ['A', 'B'] : [''];

  function $(sel, root) { return (root || document).querySelector(sel); }
  function el(tag, attrs, html) {
    var e = document.createElement(tag);
    for (var k in attrs || {}) e.setAttribute(k, attrs[k]);
    if (html !== undefined) e.innerHTML = html;
    return e;
  }
  function esc(s) {
    return String(s).replace(/[&<>"']/g, function (c) {
      return {'&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;'}[c];
    });
  }
  function fmt(v) {
    if (v === null || v === undefined || isNaN(v)) return '\u2013';
    if (!isFinite(v)) return v > 0 ? '\u221e' : '-\u221e';
    var a = Math.abs(v);
    if (a !== 0 && (a < 1e-3 || a >= 1e5)) return v.toExponential(3);
    return v.toPrecision(4);
  }
  function short(v) { return String(+(+v).toPrecision(5)); }
  function url(side, i, what) { return FILES + '/img/' + side + '/' + i + what; }

  /* ---- float data: tiles, decoded when they arrive, read as binary16 on demand ---- */
  var cache = {}, cacheOrder = [], waiting = {};
  function h2f(h) {
    var s = h & 0x8000 ? -1 : 1, e = (h >> 10) & 31, f = h & 1023;
    if (e === 0) return s * f * 5.960464477539063e-8; /* 2^-24 */
    if (e === 31) return f ? NaN : s * Infinity;
    return s * (1 + f / 1024) * Math.pow(2, e - 15);
  }
  function decode(b64) {
    var bin = atob(b64), n = bin.length, u8 = new Uint8Array(n);
    for (var i = 0; i < n; i++) u8[i] = bin.charCodeAt(i);
    return u8;
  }
  window.doubtData = function (side, name, t, d) {
    var planes = {};
    for (var k in d.maps) {
      var u8 = decode(d.maps[k]);
      planes[k] = k === 'cls' ? u8 : new Uint16Array(u8.buffer);
    }
    var key = side + ':' + name + ':' + t;
    cache[key] = {x: d.x, y: d.y, w: d.w, h: d.h, planes: planes};
    cacheOrder.push(key);
    while (cacheOrder.length > 64) delete cache[cacheOrder.shift()];
    (waiting[key] || []).forEach(function (f) { f(cache[key]); });
    delete waiting[key];
  };
  function tileOf(side, i, x, y) {
    var ntx = Math.ceil(IMGS[i].sides[side].w / TILE);
    return Math.floor(y / TILE) * ntx + Math.floor(x / TILE);
  }
  /* Resolves with tile t of image i in folder side, adding its script once. */
  function loadTile(side, i, t) {
    var key = side + ':' + IMGS[i].name + ':' + t;
    return new Promise(function (resolve, reject) {
      if (cache[key]) return resolve(cache[key]);
      var first = !waiting[key];
      (waiting[key] = waiting[key] || []).push(resolve);
      if (!first) return;
      var s = el('script', {src: FILES + '/data/' + side + '/' + i + '_' + t + '.js'});
      s.onload = function () { s.remove(); };
      s.onerror = function () { s.remove(); delete waiting[key]; reject(new Error(s.src)); };
      document.body.appendChild(s);
    });
  }
  var PENDING = {};
  /* The value of plane key at (x, y): a number, undefined (no such plane), or PENDING while
   * its tile loads (the read-out is drawn again when it arrives). */
  function valueAt(side, i, key, x, y) {
    var t = tileOf(side, i, x, y), d = cache[side + ':' + IMGS[i].name + ':' + t];
    if (!d) {
      loadTile(side, i, t).then(function () { if (V.i === i) renderReadout(); },
        function (e) { $('#pixel', viewer).textContent = 'float data missing: ' + e.message; });
      return PENDING;
    }
    var p = d.planes[key], j = (y - d.y) * d.w + (x - d.x);
    if (!p) return undefined;
    return key === 'cls' ? p[j] : h2f(p[j]);
  }

  /* ---- table columns ---------------------------------------------------------------- */
  var statKeys = [];
  ['depth_mean', 'depth_epistemic', 'depth_aleatoric', 'depth_total', 'seg_entropy',
   'seg_aleatoric', 'seg_mutual_info', 'seg_logit_var', 'no_depth'].forEach(function (k) {
    if (IMGS.some(function (im) { return im.sides.some(function (s) {
      return s.stats && k in s.stats; }); })) statKeys.push(k);
  });
  IMGS.forEach(function (im) { im.sides.forEach(function (s) {
    for (var k in s.stats || {}) if (statKeys.indexOf(k) < 0) statKeys.push(k);
  }); });
  function stat(im, side, k) {
    var s = im.sides[side];
    var v = s && s.ok && s.stats ? s.stats[k] : null;
    return v === null || v === undefined ? NaN : v;
  }
  var cols = [];
  statKeys.forEach(function (k) {
    for (var s = 0; s < NS; s++)
      cols.push({id: (NS === 2 ? SIDE_NAME[s] + ':' : '') + k, key: k, side: s,
        label: (NS === 2 ? SIDE_NAME[s] + ' ' : '') + k, get: (function (s) {
          return function (im) { return stat(im, s, k); }; })(s)});
    if (NS === 2)
      cols.push({id: 'diff:' + k, key: k, side: -1, label: '\u0394 ' + k,
        get: function (im) { return stat(im, 1, k) - stat(im, 0, k); }});
  });
  function failedText(im) {
    var bad = [];
    im.sides.forEach(function (s, j) {
      if (!s.ok) bad.push((NS === 2 ? SIDE_NAME[j] + ': ' : '') + s.error);
    });
    return bad.join('; ');
  }
  function usable(i) { return IMGS[i].sides.some(function (s) { return s.ok; }); }

  /* ---- overview --------------------------------------------------------------------- */
  var app = $('#app');
  app.innerHTML = '';
  var ov = el('div', {id: 'overview'});
  app.appendChild(ov);
  var dirs = M.sides.map(function (s, j) {
    return (NS === 2 ? '<b>' + SIDE_NAME[j] + '</b> ' : '') + '<code>' + esc(s.dir) + '</code>';
  }).join(' against ');
  var nfail = IMGS.filter(function (im) { return failedText(im); }).length;
  ov.appendChild(el('h1', {}, 'doubt report'));
  ov.appendChild(el('p', {class: 'note'}, IMGS.length + ' image' + (IMGS.length === 1 ? '' : 's') +
    ' from ' + dirs + (nfail ? ', <b>' + nfail + ' with problems</b> (listed in the table)' : '') +
    '. Statistics are per-image means of each map (no_depth: the fraction of pixels without ' +
    'depth). Click a column header to sort, a row to open the viewer (arrow keys step ' +
    'through the images in the table\'s order).'));

  var top = el('div', {class: 'row'});
  ov.appendChild(top);
  /* check these first */
  var check = el('div', {id: 'check', class: 'card'});
  top.appendChild(check);
  var rankKeys = ['seg_mutual_info', 'depth_epistemic'].filter(function (k) {
    return statKeys.indexOf(k) >= 0; });
  function renderCheck() {
    var k = $('#rank', check).value, side = 0;
    var idx = IMGS.map(function (_, i) { return i; }).filter(function (i) {
      return !isNaN(stat(IMGS[i], side, k)); });
    idx.sort(function (a, b) { return stat(IMGS[b], side, k) - stat(IMGS[a], side, k); });
    $('ol', check).innerHTML = idx.slice(0, 10).map(function (i) {
      return '<li data-i="' + i + '"><img loading="lazy" src="' + url(0, i, '.thumb.png') +
        '" alt="">' + esc(IMGS[i].name) + ' <small>' + fmt(stat(IMGS[i], side, k)) + ' ' +
        STAT_UNITS[k] + '</small></li>';
    }).join('');
  }
  if (rankKeys.length) {
    check.innerHTML = '<h2 style="margin-top:0">Check these first</h2><label>by mean <select ' +
      'id="rank">' + rankKeys.map(function (k) {
        return '<option value="' + k + '">' + k.replace(/_/g, ' ') + '</option>'; }).join('') +
      '</select></label>' + (NS === 2 ? ' <small>(of A)</small>' : '') +
      ' <button id="walk">walk them in this order</button><ol></ol>';
    $('#rank', check).addEventListener('change', renderCheck);
    $('ol', check).addEventListener('click', function (e) {
      var li = e.target.closest('li');
      if (li) openViewer(+li.dataset.i);
    });
    $('#walk', check).addEventListener('click', function () {
      sortBy((NS === 2 ? 'A:' : '') + $('#rank', check).value, false);
      if (order.length) openViewer(order[0]);
    });
    renderCheck();
  } else check.remove();

  /* histograms of each statistic */
  var hists = el('div', {id: 'hists', class: 'card'});
  hists.appendChild(el('h2', {style: 'margin-top:0'}, 'Per-image statistics'));
  top.appendChild(hists);
  statKeys.forEach(function (k) {
    var vals = [], lo = Infinity, hi = -Infinity;
    for (var s = 0; s < NS; s++) {
      vals.push(IMGS.map(function (im) { return stat(im, s, k); }).filter(isFinite));
      vals[s].forEach(function (v) { lo = Math.min(lo, v); hi = Math.max(hi, v); });
    }
    if (lo > hi) return;
    var B = 20, W = 180, H = 60, bins = [];
    var span = hi > lo ? hi - lo : 1;
    for (s = 0; s < NS; s++) {
      bins.push(new Array(B).fill(0));
      vals[s].forEach(function (v) { bins[s][Math.min(B - 1, Math.floor((v - lo) / span * B))]++; });
    }
    var most = Math.max.apply(null, bins.map(function (b) { return Math.max.apply(null, b); }));
    var svg = '<svg width="' + W + '" height="' + H + '" viewBox="0 0 ' + W + ' ' + H + '">';
    for (s = 0; s < NS; s++)
      bins[s].forEach(function (c, b) {
        var h = c ? Math.max(1, c / most * (H - 2)) : 0;
        svg += '<rect class="b' + s + '" x="' + (b * W / B + 0.5) + '" y="' + (H - h) +
          '" width="' + (W / B - 1) + '" height="' + h + '"><title>' + (NS === 2 ? SIDE_NAME[s] +
          ': ' : '') + c + ' image' + (c === 1 ? '' : 's') + ' in [' + fmt(lo + b * span / B) +
          ', ' + fmt(lo + (b + 1) * span / B) + ')</title></rect>';
      });
    svg += '</svg>';
    hists.appendChild(el('div', {class: 'hist', 'data-key': k}, '<div>' + esc(k) + ' <small>' +
      (STAT_UNITS[k] || '') + '</small></div>' + svg + '<div><small>' + fmt(lo) +
      ' \u2026 ' + fmt(hi) + (NS === 2 ? ' (<span style="color:#4878a8">A</span>, ' +
      '<span style="color:#d0802c">B</span>)' : '') + '</small></div>'));
  });

  /* doubt eval */
  if (M.eval || M.eval_plots) {
    var ev = el('div', {id: 'eval', class: 'card'});
    ov.appendChild(el('h2', {}, 'Evaluation (doubt eval)'));
    ov.appendChild(ev);
    var evRow = el('div', {class: 'row'});
    ev.appendChild(evRow);
    if (M.eval) {
      var E = M.eval, run = E.run || {};
      ev.insertBefore(el('p', {class: 'note'}, esc(E.images) + ' images of <code>' +
        esc(run.data || '?') + '</code>, weights <code>' + esc(run.weights || '?') + '</code>, ' +
        (E.deterministic ? 'one deterministic pass' : 'T = ' + esc(E.samples)) + '.'), evRow);
      var HEAD = [['seg', 'pixel_acc', 'pixel accuracy'], ['seg', 'miou', 'mIoU'],
        ['seg', 'ece', 'ECE'], ['seg', 'nll', 'NLL (nats)'], ['seg', 'brier', 'Brier'],
        ['depth', 'abs_rel', 'abs rel'], ['depth', 'rmse', 'RMSE (m)'], ['depth', 'delta1', '\u03b4 < 1.25'],
        ['depth', 'nll', 'Gaussian NLL'],
        ['uncertainty', 'ause_seg_error', 'seg AUSE (entropy)'],
        ['uncertainty', 'auroc_seg', 'seg error AUROC (entropy)'],
        ['uncertainty', 'pavpu_seg', 'seg PAvPU'],
        ['uncertainty', 'ause_depth_rmse', 'depth AUSE RMSE (total var.)'],
        ['uncertainty', 'auroc_depth', 'depth error AUROC (total var.)']];
      var rows = '';
      HEAD.forEach(function (h) {
        var o = E[h[0]];
        if (o && h[1] in o)
          rows += '<tr><th>' + h[2] + '</th><td data-key="' + h[0] + '.' + h[1] + '">' +
            fmt(o[h[1]]) + '</td></tr>';
      });
      evRow.appendChild(el('table', {class: 'metrics', id: 'headline'}, '<caption><b>headline' +
        '</b></caption>' + rows));
      var all = el('details', {}, '<summary>every figure</summary>');
      var allRow = el('div', {class: 'row'});
      all.appendChild(allRow);
      [['seg', 'segmentation'], ['depth', 'depth'], ['uncertainty', 'uncertainty']].forEach(function (g) {
        var o = E[g[0]];
        if (!o) return;
        var r = '';
        for (var k in o) if (typeof o[k] === 'number' || o[k] === null)
          r += '<tr><th>' + esc(k) + '</th><td>' + fmt(o[k]) + '</td></tr>';
        allRow.appendChild(el('table', {class: 'metrics'}, '<caption><b>' + g[1] + '</b></caption>' + r));
      });
      ev.appendChild(all);
      var rel = M.eval.seg && M.eval.seg.reliability;
      if (rel && rel.confidence) evRow.appendChild(reliabilitySvg(rel));
    }
    if (M.eval_plots && M.eval_plots.length) {
      var pl = el('div', {class: 'plots'});
      M.eval_plots.forEach(function (p) {
        pl.appendChild(el('img', {src: FILES + '/eval/' + p, alt: p, title: p}));
      });
      ev.appendChild(pl);
    }
  }
  function reliabilitySvg(rel) {
    var S = 220, P = 30, n = rel.confidence.length, svg = '';
    var x = function (v) { return P + v * (S - P - 6); }, y = function (v) {
      return S - P - v * (S - P - 6); };
    svg += '<line x1="' + x(0) + '" y1="' + y(0) + '" x2="' + x(1) + '" y2="' + y(1) +
      '" stroke="#aaa" stroke-dasharray="3,3"/>';
    for (var b = 0; b < n; b++) {
      if (!rel.count[b]) continue;
      var a = rel.accuracy[b];
      svg += '<rect x="' + x(b / n) + '" y="' + y(a) + '" width="' + (x(1 / n) - x(0) - 1) +
        '" height="' + (y(0) - y(a)) + '" fill="#4878a8"><title>confidence ' + fmt(rel.confidence[b]) +
        ', accuracy ' + fmt(a) + ', ' + rel.count[b] + ' pixels</title></rect>';
    }
    svg += '<line x1="' + x(0) + '" y1="' + y(0) + '" x2="' + x(1) + '" y2="' + y(0) +
      '" stroke="#222"/><line x1="' + x(0) + '" y1="' + y(0) + '" x2="' + x(0) + '" y2="' +
      y(1) + '" stroke="#222"/><text x="' + x(0.5) + '" y="' + (S - 6) +
      '" font-size="11" text-anchor="middle">confidence</text><text x="10" y="' + y(0.5) +
      '" font-size="11" transform="rotate(-90 10 ' + y(0.5) + ')" text-anchor="middle">' +
      'accuracy</text>';
    var d = el('div', {id: 'reliability'}, '<b>reliability</b><br><svg width="' + S +
      '" height="' + S + '">' + svg + '</svg>');
    return d;
  }

  /* the table */
  ov.appendChild(el('h2', {}, 'Images'));
  var table = el('table', {id: 'gallery'});
  ov.appendChild(table);
  var head = '<thead><tr><th data-key="index" data-type="num">#</th><th class="nosort">' +
    'preview</th><th data-key="name" data-type="text">name</th>';
  cols.forEach(function (c) {
    head += '<th data-key="' + esc(c.id) + '" data-type="num">' + esc(c.label) +
      (STAT_UNITS[c.key] ? '<br><small>' + STAT_UNITS[c.key] + '</small>' : '') + '</th>';
  });
  head += '<th data-key="status" data-type="text">status</th></tr></thead><tbody></tbody>';
  table.innerHTML = head;
  var order = IMGS.map(function (_, i) { return i; });
  var rowHtml = IMGS.map(function (im, i) {
    var bad = failedText(im), thumbSide = im.sides[0] && im.sides[0].ok ? 0 : 1;
    var h = '<tr data-i="' + i + '"' + (bad ? ' class="failed"' : '') + '><td data-v="' +
      (i + 1) + '">' + (i + 1) + '</td><td>' + (usable(i) ? '<img class="thumb" loading="lazy" ' +
      'src="' + url(thumbSide, i, '.thumb.png') + '" alt="">' : '') + '</td><td class="name">' +
      esc(im.name) + '</td>';
    cols.forEach(function (c) {
      var v = c.get(im);
      h += isFinite(v) ? '<td data-v="' + v + '">' + fmt(v) + '</td>' : '<td data-v="">\u2013</td>';
    });
    return h + '<td class="status">' + (bad ? esc(bad) : 'ok') + '</td></tr>';
  });
  function renderRows() {
    table.tBodies[0].innerHTML = order.map(function (i) { return rowHtml[i]; }).join('');
  }
  var sortKey = null, sortAsc = true;
  function sortValue(i, key) {
    if (key === 'index') return i;
    if (key === 'name') return IMGS[i].name;
    if (key === 'status') return failedText(IMGS[i]) ? 'failed' : 'ok';
    for (var c = 0; c < cols.length; c++) if (cols[c].id === key) return cols[c].get(IMGS[i]);
    return NaN;
  }
  function sortBy(key, asc) {
    var th = null;
    Array.prototype.forEach.call(table.tHead.rows[0].cells, function (h) {
      h.classList.remove('asc', 'desc');
      if (h.dataset.key === key) th = h;
    });
    if (!th) return;
    th.classList.add(asc ? 'asc' : 'desc');
    sortKey = key;
    sortAsc = asc;
    var vals = {};
    order.forEach(function (i) { vals[i] = sortValue(i, key); });
    var num = th.dataset.type === 'num';
    order.sort(function (a, b) {
      var x = vals[a], y = vals[b];
      if (num) {
        if (isNaN(x) || isNaN(y)) return isNaN(x) - isNaN(y) || a - b; /* blanks last */
        return (asc ? x - y : y - x) || a - b;
      }
      return (asc ? x.localeCompare(y) : y.localeCompare(x)) || a - b;
    });
    renderRows();
    setHash();
  }
  table.tHead.addEventListener('click', function (e) {
    var th = e.target.closest('th');
    if (th && !th.classList.contains('nosort'))
      sortBy(th.dataset.key, !(sortKey === th.dataset.key && sortAsc));
  });
  table.tBodies[0].addEventListener('click', function (e) {
    var tr = e.target.closest('tr');
    if (tr && usable(+tr.dataset.i)) openViewer(+tr.dataset.i);
  });
  renderRows();

  /* ---- viewer ----------------------------------------------------------------------- */
  var V = {i: -1, map: 1, opacity: 0.6, marks: true, z: 1, tx: 0, ty: 0, px: -1, py: -1};
  var viewer = el('div', {id: 'viewer', hidden: ''});
  viewer.innerHTML = '<div class="vbar"><button id="prev" title="previous (\u2190)">\u25c0</button>' +
    '<button id="next" title="next (\u2192)">\u25b6</button><span class="title"></span>' +
    '<span id="zoom"></span><button id="fit" title="fit (0)">fit</button>' +
    '<button id="close" title="back to the table (Esc)">\u2715</button></div>' +
    '<div class="vmain"><div class="stages"></div><aside>' +
    '<h3>Map <small>(click, or keys 1\u20139, \u2191 \u2193)</small></h3><div class="maps"></div>' +
    '<h3>Opacity <small>([ ])</small></h3><input type="range" id="opacity" min="0" max="100">' +
    '<label><input type="checkbox" id="marks"> mark no-depth pixels <span class="swatch">' +
    '</span> <small>(n)</small></label> <span id="nodepth"></span>' +
    '<h3>At the pointer</h3><div id="pixel"></div><table class="readout"></table>' +
    '<h3>Legend</h3><div class="legend"></div>' +
    '<p class="help"><small>Values come from the float maps (binary16: within 0.05% ' +
    'relative, shown to 4 digits), not from the colours. Wheel or <kbd>+</kbd> <kbd>-</kbd> ' +
    'zoom to the pixels, drag to pan, <kbd>0</kbd> fits. <kbd>\u2190</kbd> <kbd>\u2192</kbd> ' +
    'previous and next image in the table\'s order, <kbd>Esc</kbd> back.</small></p>' +
    '</aside></div>';
  document.body.appendChild(viewer);
  var stagesEl = $('.stages', viewer), readout = $('.readout', viewer);
  var mapsEl = $('.maps', viewer);
  MAPS.forEach(function (m, k) {
    var b = el('button', {'data-map': m.key, 'aria-pressed': 'false'}, esc(m.title) +
      ' <small>' + m.units + '</small><kbd>' + (k + 1) + '</kbd>');
    b.addEventListener('click', function () { setMap(k); });
    mapsEl.appendChild(b);
  });
  $('#opacity', viewer).value = V.opacity * 100;
  $('#opacity', viewer).addEventListener('input', function (e) {
    V.opacity = e.target.value / 100;
    applyOpacity();
  });
  $('#marks', viewer).checked = V.marks;
  $('#marks', viewer).addEventListener('change', function (e) {
    V.marks = e.target.checked;
    applyOpacity();
  });
  $('#prev', viewer).addEventListener('click', function () { step(-1); });
  $('#next', viewer).addEventListener('click', function () { step(1); });
  $('#close', viewer).addEventListener('click', closeViewer);
  $('#fit', viewer).addEventListener('click', function () { fit(); });

  var stages = []; /* {el, layer, ov, marks, cross, side} per stage; side 'diff' for B - A */
  function buildStages() {
    stagesEl.innerHTML = '';
    stages = [];
    var list = NS === 2 ? [0, 1, 'diff'] : [0];
    list.forEach(function (side) {
      var st = {side: side, el: el('div', {class: 'stage', 'data-side': side})};
      st.el.innerHTML = '<div class="label"></div><div class="layer"><img class="photo" alt="">' +
        '<div class="ov"></div><img class="marks" alt=""></div><div class="cross"></div>';
      st.layer = $('.layer', st.el);
      st.photo = $('.photo', st.el);
      st.ov = $('.ov', st.el);
      st.marks = $('.marks', st.el);
      st.cross = $('.cross', st.el);
      st.label = $('.label', st.el);
      stagesEl.appendChild(st.el);
      stages.push(st);
      st.el.addEventListener('mousemove', onMove);
      st.el.addEventListener('wheel', onWheel, {passive: false});
      st.el.addEventListener('mousedown', onDown);
    });
  }
  buildStages();

  function cur() { return IMGS[V.i]; }
  function dims() {
    var im = cur();
    for (var s = 0; s < NS; s++) if (im.sides[s] && im.sides[s].ok)
      return [im.sides[s].w, im.sides[s].h];
    return [1, 1];
  }
  function openViewer(i) {
    if (i < 0 || i >= IMGS.length || !usable(i)) return;
    var first = viewer.hidden;
    viewer.hidden = false;
    document.body.style.overflow = 'hidden';
    V.i = i;
    viewer.dataset.ready = '';
    var im = IMGS[i], wh = dims();
    $('.title', viewer).textContent = im.name + '  (' + (order.indexOf(i) + 1) + ' of ' +
      order.length + ', ' + wh[0] + '\u00d7' + wh[1] + ')';
    stages.forEach(function (st) {
      var s = st.side === 'diff' ? 0 : st.side, e = im.sides[s], ok = e && e.ok;
      st.photo.src = im.photo ? FILES + '/img/photo/' + im.photo : url(s, i, '.seg.png');
      [st.photo, st.ov, st.marks].forEach(function (x) {
        x.style.width = wh[0] + 'px';
        x.style.height = wh[1] + 'px';
      });
      st.marks.hidden = !(ok && e.nodepth);
      if (ok && e.nodepth) st.marks.src = url(s, i, '.nodepth.png');
      st.layer.style.visibility = st.side === 'diff' ? (im.sides[0].ok && im.sides[1].ok ?
        '' : 'hidden') : ok ? '' : 'hidden';
    });
    var nd = [];
    for (var s = 0; s < NS; s++) if (im.sides[s] && im.sides[s].ok)
      nd.push((NS === 2 ? SIDE_NAME[s] + ' ' : '') + (100 * im.sides[s].stats.no_depth).toFixed(1) + '%');
    $('#nodepth', viewer).textContent = nd.join(', ') + ' of pixels';
    V.px = V.py = -1;
    if (first || V.lastWH !== wh.join('x')) fit();
    V.lastWH = wh.join('x');
    setMap(V.map);
    setHash();
    /* the tile at the centre first: for an image up to TILE x TILE pixels that is all */
    var want = [];
    for (s = 0; s < NS; s++) if (im.sides[s] && im.sides[s].ok)
      want.push(loadTile(s, i, tileOf(s, i, wh[0] >> 1, wh[1] >> 1)));
    Promise.all(want).then(function () {
      if (V.i !== i) return;
      renderReadout();
      viewer.dataset.ready = im.name;
    }, function (e) {
      $('#pixel', viewer).textContent = 'float data missing: ' + e.message;
    });
    var k = order.indexOf(i);
    if (k + 1 < order.length) { /* the next one is probably wanted soon */
      var nx = order[k + 1];
      for (s = 0; s < NS; s++) if (IMGS[nx].sides[s] && IMGS[nx].sides[s].ok)
        loadTile(s, nx, tileOf(s, nx, IMGS[nx].sides[s].w >> 1, IMGS[nx].sides[s].h >> 1))
          .catch(function () {});
    }
  }
  function closeViewer() {
    viewer.hidden = true;
    document.body.style.overflow = '';
    V.i = -1;
    setHash();
  }
  function step(d) {
    var k = order.indexOf(V.i);
    for (var j = k + d; j >= 0 && j < order.length; j += d)
      if (usable(order[j])) return openViewer(order[j]);
  }
  function rangeOf(side, key) { return (M.sides[side].ranges || {})[key]; }
  function setMap(k) {
    V.map = k;
    var m = MAPS[k], im = cur();
    Array.prototype.forEach.call(mapsEl.children, function (b, j) {
      b.setAttribute('aria-pressed', j === k ? 'true' : 'false');
      b.disabled = !im.sides.some(function (s) { return s.ok && s.heat.indexOf(MAPS[j].key) >= 0; });
    });
    stages.forEach(function (st) {
      var s = st.side === 'diff' ? null : st.side, has = s !== null && im.sides[s] &&
        im.sides[s].ok && im.sides[s].heat.indexOf(m.key) >= 0;
      var diff = st.side === 'diff' && im.sides[1].ok && (im.sides[1].diff || []).indexOf(m.key) >= 0;
      st.ov.style.backgroundImage = has ? 'url("' + url(s, V.i, '.' + m.key + '.png') + '")' :
        diff ? 'url("' + url(1, V.i, '.diff.' + m.key + '.png') + '")' : 'none';
      st.label.textContent = (st.side === 'diff' ? 'B \u2212 A \u00b7 ' : NS === 2 ?
        SIDE_NAME[s] + ': ' + M.sides[s].dir + ' \u00b7 ' : '') + m.title;
    });
    applyOpacity();
    renderLegend();
    renderReadout();
    setHash();
  }
  function applyOpacity() {
    stages.forEach(function (st) {
      st.ov.style.opacity = V.opacity;
      st.marks.style.display = V.marks ? '' : 'none';
    });
  }
  function legendCanvas(side, key, w) {
    /* the colorbar predict burned into the heatmap, right of the map */
    var c = el('canvas'), img = new Image();
    img.onload = function () {
      var bw = img.naturalWidth - w;
      if (bw <= 0) return;
      c.width = bw;
      c.height = img.naturalHeight;
      c.getContext('2d').drawImage(img, w, 0, bw, img.naturalHeight, 0, 0, bw, img.naturalHeight);
    };
    img.src = url(side, V.i, '.' + key + '.png');
    return c;
  }
  function renderLegend() {
    var lg = $('.legend', viewer), m = MAPS[V.map], im = cur(), wh = dims();
    lg.innerHTML = '';
    if (m.key === 'seg') {
      lg.appendChild(el('div', {}, 'Classes in the palette of <code>NAME.seg.png</code>; the ' +
        'read-out names the class index and its mean softmax probability.'));
    } else {
      for (var s = 0; s < NS; s++) {
        var r = rangeOf(s, m.key);
        if (!im.sides[s] || !im.sides[s].ok || im.sides[s].heat.indexOf(m.key) < 0) continue;
        lg.appendChild(el('div', {class: 'range', 'data-side': s}, (NS === 2 ? SIDE_NAME[s] +
          ': ' : '') + (r ? short(r.lo) + ' \u2013 ' + short(r.hi) + ' ' + m.units + ', ' +
          (r.scale || 'linear') + ', ' + (r.colormap || '') : 'range not recorded') +
          ' (fixed, the same for every image)'));
        lg.appendChild(legendCanvas(s, m.key, wh[0]));
      }
    }
    if (NS === 2) {
      var R = diffRange();
      lg.appendChild(el('div', {}, 'B \u2212 A: ' + (m.key === 'seg' ? 'red where the ' +
        'classes differ' : '<div class="diffbar"></div><span class="range">' + fmt(-R) +
        ' \u2026 0 \u2026 +' + fmt(R) + ' ' + m.units + '</span> (half the map\'s range)')));
    }
  }
  function diffRange() {
    var r = rangeOf(0, MAPS[V.map].key) || rangeOf(NS - 1, MAPS[V.map].key);
    return r ? (r.hi - r.lo) / 2 : 1;
  }
  function renderReadout() {
    var m = MAPS[V.map], im = cur(), x = V.px, y = V.py, wh = dims();
    var inside = x >= 0 && y >= 0 && x < wh[0] && y < wh[1];
    $('#pixel', viewer).textContent = inside ? 'pixel (' + x + ', ' + y + ')' :
      'move the pointer over the image';
    placeCross(inside);
    var pending = false;
    var h = '<tr><th></th>' + (NS === 2 ? '<th>A</th><th>B</th><th>B\u2212A</th>' : '<th></th>') +
      '</tr>';
    VALUES.forEach(function (row) {
      var present = false;
      for (var s = 0; s < NS; s++) if (im.sides[s] && im.sides[s].ok &&
          im.sides[s].floats.indexOf(row.key) >= 0) present = true;
      if (!present) return;
      var sel = row.key === m.data || (m.key === 'seg' && row.key === 'seg_prob');
      h += '<tr data-key="' + row.key + '"' + (sel ? ' class="sel"' : '') + '><th>' + row.title +
        (row.units ? ' <small>' + row.units + '</small>' : '') + '</th>';
      var vals = [];
      for (s = 0; s < NS; s++) {
        var ok = im.sides[s] && im.sides[s].ok;
        var v = inside && ok ? valueAt(s, V.i, row.key, x, y) : undefined;
        if (v === PENDING) pending = true;
        vals.push(v === PENDING ? undefined : v);
        var text = v === PENDING ? '\u2026' : v === undefined ? '' :
          isNaN(v) && row.key.indexOf('depth') === 0 ? 'no depth' : row.key === 'cls' ? String(v) : fmt(v);
        h += '<td data-side="' + s + '" data-v="' + (v === undefined || v === PENDING ? '' : v) +
          '">' + text + '</td>';
      }
      if (NS === 2) {
        var dv = vals[0] !== undefined && vals[1] !== undefined ? vals[1] - vals[0] : undefined;
        h += '<td data-side="diff">' + (dv === undefined ? '' : row.key === 'cls' ?
          (dv ? 'differs' : 'same') : fmt(dv)) + '</td>';
      }
      h += '</tr>';
    });
    var notes = [];
    for (var q = 0; q < NS; q++) {
      var e = im.sides[q];
      if (!e || !e.ok) continue;
      var who = NS === 2 ? SIDE_NAME[q] + ': ' : '';
      if (e.floats.length < VALUES.length)
        notes.push(who + 'no .npy for ' + VALUES.filter(function (r) {
          return e.floats.indexOf(r.key) < 0; }).map(function (r) { return r.title; }).join(', ') +
          ' (doubt predict --npy writes them)');
      if (e.depth_source === 'depth.png')
        notes.push(who + 'depth read from NAME.depth.png (steps of 1/256 m)');
    }
    h += notes.length ? '<tr><td colspan="4" class="note">' + esc(notes.join('; ')) + '</td></tr>' : '';
    readout.innerHTML = h;
    readout.dataset.complete = inside && !pending ? x + ',' + y : '';
  }

  /* pointer, zoom and pan: all stages share one transform; the pixel marker sits outside
   * the scaled layer so its outline stays one screen pixel wide */
  function placeCross(inside) {
    stages.forEach(function (st) {
      st.cross.style.display = inside ? '' : 'none';
      st.cross.style.left = V.tx + V.px * V.z + 'px';
      st.cross.style.top = V.ty + V.py * V.z + 'px';
      st.cross.style.width = st.cross.style.height = Math.max(1, V.z) + 'px';
    });
  }
  function applyTransform() {
    var wh = V.i >= 0 ? dims() : [0, 0];
    placeCross(V.px >= 0 && V.py >= 0 && V.px < wh[0] && V.py < wh[1]);
    stages.forEach(function (st) {
      st.layer.style.transform = 'translate(' + V.tx + 'px,' + V.ty + 'px) scale(' + V.z + ')';
    });
    $('#zoom', viewer).textContent = (V.z >= 1 ? V.z.toFixed(V.z < 10 ? 1 : 0) : V.z.toFixed(2)) +
      '\u00d7';
  }
  function fit() {
    var wh = dims(), r = stages[0].el.getBoundingClientRect();
    var z = Math.min(r.width / wh[0], r.height / wh[1]);
    V.z = z > 0 ? z : 1;
    V.tx = (r.width - wh[0] * V.z) / 2;
    V.ty = (r.height - wh[1] * V.z) / 2;
    applyTransform();
  }
  function zoomAt(f, cx, cy) {
    var z = Math.max(0.05, Math.min(128, V.z * f));
    V.tx = cx - (cx - V.tx) * z / V.z;
    V.ty = cy - (cy - V.ty) * z / V.z;
    V.z = z;
    applyTransform();
  }
  function onWheel(e) {
    e.preventDefault();
    var r = e.currentTarget.getBoundingClientRect();
    zoomAt(e.deltaY < 0 ? 1.25 : 0.8, e.clientX - r.left, e.clientY - r.top);
  }
  var drag = null;
  function onDown(e) {
    drag = {x: e.clientX, y: e.clientY, tx: V.tx, ty: V.ty};
    e.preventDefault();
  }
  window.addEventListener('mousemove', function (e) {
    if (!drag) return;
    V.tx = drag.tx + e.clientX - drag.x;
    V.ty = drag.ty + e.clientY - drag.y;
    applyTransform();
  });
  window.addEventListener('mouseup', function () { drag = null; });
  function onMove(e) {
    var st = stages.filter(function (s) { return s.el === e.currentTarget; })[0];
    var r = st.photo.getBoundingClientRect(), wh = dims();
    V.px = Math.floor((e.clientX - r.left) / r.width * wh[0]);
    V.py = Math.floor((e.clientY - r.top) / r.height * wh[1]);
    renderReadout();
  }
  window.addEventListener('resize', function () { if (!viewer.hidden) fit(); });
  document.addEventListener('keydown', function (e) {
    if (viewer.hidden || e.ctrlKey || e.metaKey || e.altKey) return;
    if (e.key !== 'Escape' && /^(INPUT|SELECT)$/.test(e.target.tagName) &&
        e.target.type !== 'checkbox') return; /* the slider keeps its arrow keys */
    var k = e.key, r = stages[0].el.getBoundingClientRect();
    if (k === 'ArrowRight' || k === 'j') step(1);
    else if (k === 'ArrowLeft' || k === 'k') step(-1);
    else if (k === 'ArrowDown') setMap((V.map + 1) % MAPS.length);
    else if (k === 'ArrowUp') setMap((V.map + MAPS.length - 1) % MAPS.length);
    else if (k >= '1' && k <= '9') setMap(+k - 1);
    else if (k === '+' || k === '=') zoomAt(1.5, r.width / 2, r.height / 2);
    else if (k === '-') zoomAt(1 / 1.5, r.width / 2, r.height / 2);
    else if (k === '0') fit();
    else if (k === '[' || k === ']') {
      V.opacity = Math.max(0, Math.min(1, V.opacity + (k === ']' ? 0.1 : -0.1)));
      $('#opacity', viewer).value = Math.round(V.opacity * 100);
      applyOpacity();
    } else if (k === 'n') {
      V.marks = !V.marks;
      $('#marks', viewer).checked = V.marks;
      applyOpacity();
    } else if (k === 'Escape') closeViewer();
    else return;
    e.preventDefault();
  });

  /* ---- the address: #sort=KEY:asc|desc&view=NAME&map=KEY ---------------------------- */
  var hashBusy = false;
  function setHash() {
    if (hashBusy) return;
    var p = [];
    if (sortKey) p.push('sort=' + encodeURIComponent(sortKey) + ':' + (sortAsc ? 'asc' : 'desc'));
    if (V.i >= 0) p.push('view=' + encodeURIComponent(IMGS[V.i].name), 'map=' + MAPS[V.map].key);
    history.replaceState(null, '', p.length ? '#' + p.join('&') : location.pathname);
  }
  function readHash() {
    hashBusy = true;
    var q = {};
    location.hash.replace(/^#/, '').split('&').forEach(function (kv) {
      var j = kv.indexOf('=');
      if (j > 0) q[kv.slice(0, j)] = decodeURIComponent(kv.slice(j + 1));
    });
    var m = /^(.+):(asc|desc)$/.exec(q.sort || '');
    if (m) sortBy(m[1], m[2] === 'asc');
    if (q.map) MAPS.forEach(function (mp, k) { if (mp.key === q.map) V.map = k; });
    if (q.view) IMGS.forEach(function (im, i) { if (im.name === q.view) openViewer(i); });
    hashBusy = false;
  }
  readHash();
  window.doubtReport = {readyMs: performance.now(), open: openViewer, setMap: setMap, state: V, order: order,
    maps: MAPS.map(function (m) { return m.key; })};
})();
