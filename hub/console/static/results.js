// 服务成效表's charts; the figures come from the page's <script type="application/json" id="chart-data">.
// Counts are whole people and plays: the axes step by whole numbers (an empty month shows 0-5, not 0.1 … 1.0).
(function () {
  const source = document.getElementById('chart-data');
  if (!source || !window.Chart) return;
  const data = JSON.parse(source.textContent);
  Chart.defaults.font.family = '"Microsoft YaHei","WenQuanYi Micro Hei",sans-serif';
  Chart.defaults.animation = false;
  new Chart(document.getElementById('trend'), {type: 'bar', data: {labels: data.labels, datasets: [
    {label: '服务人次', data: data.visits, backgroundColor: '#1556b8'},
    {label: '登记人数', data: data.registrations, backgroundColor: '#c8161d'},
    {label: '打印单据', data: data.slips, backgroundColor: '#e6a23c'},
    {label: '视频与大屏播放', data: data.plays, type: 'line', borderColor: '#2e7d32', backgroundColor: '#2e7d32', yAxisID: 'y2'}]},
    options: {maintainAspectRatio: false, scales: {y: {beginAtZero: true, suggestedMax: 5, ticks: {precision: 0}, title: {display: true, text: '人次'}},
      y2: {beginAtZero: true, suggestedMax: 5, ticks: {precision: 0}, position: 'right', grid: {drawOnChartArea: false}, title: {display: true, text: '播放次数'}}}}});
  if (document.getElementById('kinds')) new Chart(document.getElementById('kinds'), {type: 'doughnut', data: {labels: data.kind_labels, datasets: [
    {data: data.kinds, backgroundColor: ['#1556b8', '#e6a23c', '#2e7d32', '#c8161d']}]},
    options: {maintainAspectRatio: false, plugins: {legend: {position: 'bottom'}}}});
})();
