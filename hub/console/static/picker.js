// 地图选点 on the job form: map tiles (天地图's, or the configured ones) around the job's point in
// web-Mercator; a click puts that point's 纬度/经度 into the form and re-centres the map there.
(function () {
  const box = document.getElementById('map-picker');
  if (!box) return;
  const templates = JSON.parse(box.dataset.tiles);
  const view = box.querySelector('.map-view');
  const status = document.getElementById('map-picker-status');
  const lat = document.getElementById('f-latitude');
  const lon = document.getElementById('f-longitude');
  const typed = parseFloat(lat.value) && parseFloat(lon.value);
  let centre = typed ? {lat: parseFloat(lat.value), lon: parseFloat(lon.value)}
                     : {lat: parseFloat(box.dataset.lat), lon: parseFloat(box.dataset.lon)};
  let chosen = typed ? centre : null;
  let zoom = typed ? 16 : 12;
  const size = () => 256 * Math.pow(2, zoom);
  const toPixel = (p) => {
    const r = p.lat * Math.PI / 180;
    return {x: (p.lon + 180) / 360 * size(), y: (1 - Math.log(Math.tan(r) + 1 / Math.cos(r)) / Math.PI) / 2 * size()};
  };
  const toPoint = (x, y) => ({lon: x / size() * 360 - 180,
                              lat: Math.atan(Math.sinh(Math.PI * (1 - 2 * y / size()))) * 180 / Math.PI});

  function draw() {
    const w = view.clientWidth, h = view.clientHeight, c = toPixel(centre);
    const left = c.x - w / 2, top = c.y - h / 2;
    view.textContent = '';
    for (let tx = Math.floor(left / 256); tx <= Math.floor((left + w) / 256); tx++) {
      for (let ty = Math.floor(top / 256); ty <= Math.floor((top + h) / 256); ty++) {
        for (const template of templates) {
          const tile = document.createElement('img');
          tile.className = 'map-tile';
          tile.alt = '';
          tile.width = tile.height = 256;
          tile.style.cssText = `position:absolute;left:${tx * 256 - left}px;top:${ty * 256 - top}px;pointer-events:none`;
          tile.src = template.replace('{z}', zoom).replace('{x}', tx).replace('{y}', ty)
            .replace('{s}', String(Math.abs(tx + ty) % 8));
          view.appendChild(tile);
        }
      }
    }
    if (chosen) {
      const p = toPixel(chosen), mark = document.createElement('span');
      mark.className = 'map-mark';
      mark.style.cssText = `position:absolute;left:${p.x - left - 8}px;top:${p.y - top - 8}px;width:12px;height:12px;` +
        'border:2px solid #fff;border-radius:50%;background:#c8161d;box-shadow:0 0 0 1px #c8161d;pointer-events:none';
      view.appendChild(mark);
    }
  }

  view.addEventListener('click', (event) => {
    const area = view.getBoundingClientRect(), c = toPixel(centre);
    chosen = toPoint(c.x - area.width / 2 + event.clientX - area.left, c.y - area.height / 2 + event.clientY - area.top);
    lat.value = chosen.lat.toFixed(6);
    lon.value = chosen.lon.toFixed(6);
    centre = chosen;
    status.textContent = `已选：纬度 ${lat.value}，经度 ${lon.value}（提交后保存）`;
    draw();
  });
  box.querySelectorAll('[data-map-zoom]').forEach((button) => button.addEventListener('click', () => {
    zoom = Math.max(5, Math.min(18, zoom + parseInt(button.dataset.mapZoom, 10)));
    draw();
  }));
  draw();
})();
