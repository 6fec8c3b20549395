// Progress of a register check, without reloading the page: server-sent events, and polling
// where an event stream does not get through. Without JavaScript the page reloads itself
// (<noscript> refresh), so this is an enhancement only. When the check ends, the page is
// reloaded once to show the summary and the downloads.
(function () {
  "use strict";
  var box = document.getElementById("progress");
  if (!box || box.dataset.state !== "running") { return; }
  var bar = document.getElementById("progress-bar");
  var done = document.getElementById("progress-done");
  var finished = false;

  function show(snapshot) {
    bar.max = snapshot.total;
    bar.value = snapshot.done;
    bar.textContent = snapshot.percent + "%";
    done.textContent = snapshot.done.toLocaleString(document.documentElement.lang || "en");
    box.dataset.done = String(snapshot.done);
    if (snapshot.state !== "running" && !finished) {
      finished = true;
      window.location.reload();
    }
  }

  function poll() {
    if (finished) { return; }
    fetch(box.dataset.poll, { credentials: "same-origin", cache: "no-store" })
      .then(function (answer) { return answer.json(); })
      .then(show)
      .catch(function () { /* the next poll tries again */ })
      .then(function () { if (!finished) { window.setTimeout(poll, 2000); } });
  }

  if (!window.EventSource) { poll(); return; }
  var source = new EventSource(box.dataset.events);
  box.dataset.transport = "events";
  source.addEventListener("progress", function (event) {
    var snapshot = JSON.parse(event.data);
    if (snapshot.state !== "running") { source.close(); }
    show(snapshot);
  });
  source.onerror = function () {
    if (finished) { return; }
    source.close();
    box.dataset.transport = "polling";
    poll();
  };
}());
