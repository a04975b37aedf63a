extension ReportPage {
    /// The interactive map: draws the points on a canvas (one path per run of a colour, so 100,000
    /// points draw in one pass), finds the point under the pointer through a grid of cells, and
    /// writes what it drew on the canvas element (`data-points`, `data-render-ms`) for tests and
    /// benchmarks. Text from the data is only ever set as `textContent`.
    static let mapScript = """
        (function () {
          'use strict';
          var started = performance.now();
          var data = JSON.parse(document.getElementById('map-data').textContent);
          var canvas = document.getElementById('map'), tip = document.getElementById('tip');
          var ctx = canvas.getContext('2d');
          var n = data.n, xs = data.x, ys = data.y, rank = data.c, classes = data.classes, order = data.order;
          var HIGHLIGHTED = 20, OTHER = '#B4B4B4', DIMMED = '#E6E6E6';
          var minX = Infinity, maxX = -Infinity, minY = Infinity, maxY = -Infinity;
          for (var i = 0; i < n; i++) {
            if (xs[i] < minX) minX = xs[i]; if (xs[i] > maxX) maxX = xs[i];
            if (ys[i] < minY) minY = ys[i]; if (ys[i] > maxY) maxY = ys[i];
          }
          if (!(maxX - minX > 1e-9)) { minX -= 0.5; maxX += 0.5; }
          if (!(maxY - minY > 1e-9)) { minY -= 0.5; maxY += 0.5; }
          var only = -1;
          var radius = n > 20000 ? 1.3 : n > 2000 ? 2.2 : 3.5;
          var sx = new Float32Array(n), sy = new Float32Array(n);
          var W = 0, H = 0, PAD = 14, CELL = 12, cols = 0, rows = 0, cellStart = null, cellPoints = null;

          function styleOf(r) {
            if (r >= HIGHLIGHTED) return { colour: OTHER, marker: 'small' };
            return { colour: classes[r][2], marker: classes[r][3] };
          }

          var legend = document.getElementById('legend');
          function legendEntry(name, count, style, key) {
            var li = document.createElement('li');
            li.dataset.rank = key;
            var swatch = document.createElement('span');
            swatch.className = 'swatch ' + style.marker;
            swatch.style.background = style.colour;
            var label = document.createElement('span');
            label.className = 'name';
            label.textContent = name;
            label.title = name;
            var number = document.createElement('span');
            number.className = 'count';
            number.textContent = String(count);
            li.append(swatch, label, number);
            li.addEventListener('click', function () {
              only = only === key ? -1 : key;
              for (var e = legend.firstChild; e; e = e.nextSibling) e.classList.toggle('active', Number(e.dataset.rank) === only);
              draw();
            });
            legend.appendChild(li);
          }
          for (var r = 0; r < Math.min(HIGHLIGHTED, classes.length); r++) legendEntry(classes[r][0], classes[r][1], styleOf(r), r);
          if (classes.length > HIGHLIGHTED) {
            var rest = 0;
            for (var r2 = HIGHLIGHTED; r2 < classes.length; r2++) rest += classes[r2][1];
            legendEntry('other (' + (classes.length - HIGHLIGHTED) + ' classes)', rest, styleOf(HIGHLIGHTED), HIGHLIGHTED);
          }

          function layout() {
            var box = canvas.parentElement.getBoundingClientRect();
            W = Math.max(320, Math.floor(box.width - 2));
            H = Math.max(320, Math.min(Math.floor(window.innerHeight - 150), Math.floor(W * 0.8)));
            var dpr = window.devicePixelRatio || 1;
            canvas.width = Math.floor(W * dpr); canvas.height = Math.floor(H * dpr);
            canvas.style.width = W + 'px'; canvas.style.height = H + 'px';
            ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
            var kx = (W - 2 * PAD) / (maxX - minX), ky = (H - 2 * PAD) / (maxY - minY);
            for (var i = 0; i < n; i++) { sx[i] = PAD + (xs[i] - minX) * kx; sy[i] = H - PAD - (ys[i] - minY) * ky; }
            // Points bucketed by cell (a counting sort), for the pointer's nearest-point search.
            cols = Math.ceil(W / CELL); rows = Math.ceil(H / CELL);
            var cells = new Int32Array(n);
            cellStart = new Int32Array(cols * rows + 1);
            for (var j = 0; j < n; j++) {
              var c = Math.min(rows - 1, Math.max(0, Math.floor(sy[j] / CELL))) * cols + Math.min(cols - 1, Math.max(0, Math.floor(sx[j] / CELL)));
              cells[j] = c; cellStart[c + 1]++;
            }
            for (var k = 0; k < cols * rows; k++) cellStart[k + 1] += cellStart[k];
            var fill = cellStart.slice(0, cols * rows);
            cellPoints = new Int32Array(n);
            for (var m = 0; m < n; m++) cellPoints[fill[cells[m]]++] = m;
          }

          // Above this many points, markers are stamped into a pixel buffer (a few pixels each, no
          // anti-aliasing): a path of 100,000 arcs takes software rasterisers about a second.
          // (`map.html#stamp` stamps whatever the count: the browser test checks that path too.)
          var STAMPED = /(^|[#&])stamp($|&)/.test(location.hash) ? 0 : 5000;
          function stampOffsets(marker, dpr) {
            var r = (marker === 'small' ? radius * 0.7 : marker === 'diamond' ? radius * 1.3 : radius) * dpr;
            var reach = Math.ceil(r), offsets = [];
            for (var dy = -reach; dy <= reach; dy++) {
              for (var dx = -reach; dx <= reach; dx++) {
                var inside = marker === 'diamond' ? Math.abs(dx) + Math.abs(dy) <= r : dx * dx + dy * dy <= r * r + 0.5;
                if (inside) offsets.push(dx, dy);
              }
            }
            return offsets.length ? offsets : [0, 0];
          }
          function packed(colour) {  // '#rrggbb' as little-endian RGBA in one 32-bit word
            var v = parseInt(colour.slice(1), 16);
            return (0xFF000000 | ((v & 0xFF) << 16) | (v & 0xFF00) | ((v >> 16) & 0xFF)) >>> 0;
          }
          function drawStamped() {
            var dpr = window.devicePixelRatio || 1, w = canvas.width, h = canvas.height;
            var image = ctx.createImageData(w, h), pixels = new Uint32Array(image.data.buffer);
            var offsets = { disc: stampOffsets('disc', dpr), diamond: stampOffsets('diamond', dpr), small: stampOffsets('small', dpr) };
            var words = {};
            for (var o = 0; o < n; o++) {
              var i = order[o], r = rank[i], style = styleOf(r);
              var colour = only >= 0 && r !== only && !(only === HIGHLIGHTED && r >= HIGHLIGHTED) ? DIMMED : style.colour;
              var word = words[colour] || (words[colour] = packed(colour));
              var list = offsets[style.marker], x = Math.round(sx[i] * dpr), y = Math.round(sy[i] * dpr);
              for (var k = 0; k < list.length; k += 2) {
                var px = x + list[k], py = y + list[k + 1];
                if (px >= 0 && px < w && py >= 0 && py < h) pixels[py * w + px] = word;
              }
            }
            ctx.putImageData(image, 0, 0);
            return n;
          }

          function draw() {
            var t0 = performance.now();
            ctx.clearRect(0, 0, W, H);
            if (n > STAMPED) {
              canvas.dataset.points = String(drawStamped());
              canvas.dataset.renderMs = (performance.now() - t0).toFixed(1);
              canvas.dataset.state = 'ready';
              return;
            }
            var drawn = 0, runColour = null, runMarker = null;
            function flush() { if (runColour !== null) ctx.fill(); }
            for (var o = 0; o < n; o++) {
              var i = order[o], r = rank[i];
              var style = styleOf(r);
              var colour = only >= 0 && r !== only && !(only === HIGHLIGHTED && r >= HIGHLIGHTED) ? DIMMED : style.colour;
              if (colour !== runColour || style.marker !== runMarker) {
                flush();
                ctx.fillStyle = colour; ctx.beginPath();
                runColour = colour; runMarker = style.marker;
              }
              var x = sx[i], y = sy[i];
              if (style.marker === 'diamond') {
                var s = radius * 1.3;
                ctx.moveTo(x, y - s); ctx.lineTo(x + s, y); ctx.lineTo(x, y + s); ctx.lineTo(x - s, y); ctx.closePath();
              } else {
                var rr = style.marker === 'small' ? radius * 0.7 : radius;
                ctx.moveTo(x + rr, y); ctx.arc(x, y, rr, 0, 6.283185307179586);
              }
              drawn++;
            }
            flush();
            canvas.dataset.points = String(drawn);
            canvas.dataset.renderMs = (performance.now() - t0).toFixed(1);
            canvas.dataset.state = 'ready';
          }

          function nearest(px, py) {
            var best = -1, bestDistance = 64;
            var cx = Math.floor(px / CELL), cy = Math.floor(py / CELL);
            for (var y = Math.max(0, cy - 1); y <= Math.min(rows - 1, cy + 1); y++) {
              for (var x = Math.max(0, cx - 1); x <= Math.min(cols - 1, cx + 1); x++) {
                var c = y * cols + x;
                for (var p = cellStart[c]; p < cellStart[c + 1]; p++) {
                  var i = cellPoints[p], dx = sx[i] - px, dy = sy[i] - py, d = dx * dx + dy * dy;
                  if (d < bestDistance) { bestDistance = d; best = i; }
                }
              }
            }
            return best;
          }

          function pointer(event) {
            var box = canvas.getBoundingClientRect();
            return nearest(event.clientX - box.left, event.clientY - box.top);
          }
          canvas.addEventListener('mousemove', function (event) {
            var i = pointer(event);
            if (i < 0) { tip.hidden = true; canvas.style.cursor = 'crosshair'; return; }
            tip.textContent = data.samples[i] + ' — ' + classes[rank[i]][0];
            tip.hidden = false;
            tip.style.left = Math.min(sx[i] + 12, W - 200) + 'px';
            tip.style.top = (sy[i] + 12) + 'px';
            canvas.style.cursor = data.links[i] ? 'pointer' : 'crosshair';
          });
          canvas.addEventListener('mouseleave', function () { tip.hidden = true; });
          canvas.addEventListener('click', function (event) {
            var i = pointer(event);
            if (i >= 0 && data.links[i]) window.open(data.links[i], '_blank', 'noopener');
          });
          var pending = 0;
          window.addEventListener('resize', function () {
            cancelAnimationFrame(pending);
            pending = requestAnimationFrame(function () { layout(); draw(); });
          });
          layout();
          draw();
          canvas.dataset.loadMs = (performance.now() - started).toFixed(1);
          document.documentElement.dataset.readyMs = performance.now().toFixed(1);
        })();
        """
}
