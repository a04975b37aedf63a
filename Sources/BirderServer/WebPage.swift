import Foundation
import Hummingbird

/// `GET /`: a page to try the models from a browser — drop or pick photos, see each one's top
/// classes per head as bars, download the results as CSV. Everything is in the binary (no CDN,
/// no external requests). `/?demo=1` submits a bundled photo, for tests and a first look.
enum WebPage {
    static func add(to router: Router<ServeRequestContext>) {
        router.get("/") { _, _ in
            Response(status: .ok, headers: [.contentType: "text/html; charset=utf-8",
                                            .contentSecurityPolicy: "default-src 'self'; img-src 'self' blob:; style-src 'unsafe-inline'; script-src 'unsafe-inline'",
                                            .cacheControl: "no-cache"],
                     body: .init(byteBuffer: ByteBuffer(string: html)))
        }
        router.get("/demo.jpg") { _, _ in
            Response(status: .ok, headers: [.contentType: "image/jpeg"], body: .init(byteBuffer: ByteBuffer(bytes: DemoPhoto.jpeg)))
        }
    }

    static let html = #"""
    <!doctype html>
    <html lang="en">
    <head>
    <meta charset="utf-8">
    <meta name="viewport" content="width=device-width, initial-scale=1">
    <title>Birder</title>
    <style>
      body { font: 15px/1.4 system-ui, sans-serif; margin: 0 auto; max-width: 60rem; padding: 1rem; color: #222; }
      header { display: flex; gap: 1rem; align-items: center; flex-wrap: wrap; }
      h1 { font-size: 1.4rem; margin: 0 1rem 0 0; }
      #drop { border: 2px dashed #999; border-radius: 8px; padding: 2rem; text-align: center; margin: 1rem 0; }
      #drop.over { background: #eef6ff; border-color: #2a7ae2; }
      .card { display: flex; gap: 1rem; border-bottom: 1px solid #ddd; padding: .8rem 0; }
      .card img { width: 128px; height: 128px; object-fit: cover; border-radius: 4px; }
      .head { margin-bottom: .5rem; } .head h3 { font-size: .9rem; margin: 0 0 .2rem; text-transform: uppercase; color: #555; }
      .row { display: grid; grid-template-columns: 14rem 1fr 4rem; gap: .5rem; align-items: center; font-size: .85rem; }
      .bar { background: #e5e5e5; height: .7rem; border-radius: 3px; overflow: hidden; }
      .bar span { display: block; height: 100%; background: #2a7ae2; }
      .error { color: #b00020; }
      #status { color: #555; }
    </style>
    </head>
    <body>
    <header>
      <h1>Birder</h1>
      <label>Model <select id="model"></select></label>
      <label>Top-k <input id="topk" type="number" min="1" max="100" value="5" style="width:4rem"></label>
      <button id="csv" disabled>Download CSV</button>
      <span id="status">loading models…</span>
    </header>
    <div id="drop">Drop photos here or <input id="files" type="file" accept="image/jpeg,image/png,image/webp,image/tiff,image/bmp,image/gif" multiple></div>
    <div id="results"></div>
    <script>
    "use strict";
    const $ = (id) => document.getElementById(id);
    const rows = [];
    let apiKey = sessionStorage.getItem("birder-api-key") || "";

    // The API key is asked for once (when the server answers 401) and kept for this tab only.
    async function api(path, options = {}) {
      for (let attempt = 0; attempt < 2; attempt++) {
        const headers = Object.assign({}, options.headers || {});
        if (apiKey) headers["Authorization"] = "Bearer " + apiKey;
        const response = await fetch(path, Object.assign({}, options, { headers }));
        if (response.status !== 401 || attempt > 0) return response;
        const key = window.prompt("This server needs an API key:");
        if (!key) return response;
        apiKey = key;
        sessionStorage.setItem("birder-api-key", key);
      }
    }

    // Until the server is ready (503) it is asked again every second.
    async function loadModels() {
      let response = await api("/v2/models");
      while (response.status === 503) {
        $("status").textContent = "models are loading…";
        await new Promise((resolve) => setTimeout(resolve, 1000));
        response = await api("/v2/models");
      }
      if (!response.ok) {
        $("status").textContent = "models unavailable: " + ((await response.json().catch(() => ({}))).error || response.status);
        return false;
      }
      const { models } = await response.json();
      $("model").replaceChildren(...models.map((m) => new Option(m.name + " (" + m.network + ")", m.name)));
      $("status").textContent = "ready";
      return true;
    }

    function element(tag, attributes = {}, children = []) {
      const node = document.createElement(tag);
      for (const [key, value] of Object.entries(attributes)) node.setAttribute(key, value);
      for (const child of children) node.append(child);
      return node;
    }

    async function classify(file, name) {
      const card = element("div", { class: "card" }, [element("img", { src: URL.createObjectURL(file), alt: name })]);
      const body = element("div", { class: "heads" }, [element("strong", {}, [name])]);
      card.append(body);
      $("results").prepend(card);
      const model = $("model").value, k = Math.max(1, parseInt($("topk").value, 10) || 5);
      try {
        const response = await api("/v2/models/" + encodeURIComponent(model) + "/classify?top_k=" + k + "&name=" + encodeURIComponent(name),
                                    { method: "POST", headers: { "Content-Type": file.type || "image/jpeg" }, body: file });
        const answer = await response.json();
        if (!response.ok) throw new Error(answer.error || ("HTTP " + response.status));
        const prediction = answer.predictions[0];
        for (const [head, top] of Object.entries(prediction.heads)) {
          const section = element("div", { class: "head" }, [element("h3", {}, [head])]);
          top.forEach((entry, rank) => {
            const percent = (entry.probability * 100).toFixed(1);
            section.append(element("div", { class: "row prediction", "data-head": head, "data-class": entry.class }, [
              element("span", {}, [entry.class]),
              element("span", { class: "bar" }, [element("span", { style: "width:" + percent + "%" })]),
              element("span", {}, [percent + " %"]),
            ]));
            rows.push([prediction.sample, model, head, rank, entry.class, entry.index, entry.probability]);
          });
          body.append(section);
        }
        $("csv").disabled = rows.length === 0;
      } catch (error) {
        body.append(element("p", { class: "error" }, [String(error.message || error)]));
      }
    }

    function csvField(value) {
      const text = String(value);
      return /[",\n\r]/.test(text) ? '"' + text.replace(/"/g, '""') + '"' : text;
    }

    $("csv").addEventListener("click", () => {
      const lines = [["sample", "model", "head", "rank", "class", "index", "probability"], ...rows].map((r) => r.map(csvField).join(","));
      const link = element("a", { href: URL.createObjectURL(new Blob([lines.join("\n") + "\n"], { type: "text/csv" })), download: "birder-predictions.csv" });
      link.click();
    });
    $("files").addEventListener("change", (event) => { for (const file of event.target.files) classify(file, file.name); });
    const drop = $("drop");
    drop.addEventListener("dragover", (event) => { event.preventDefault(); drop.classList.add("over"); });
    drop.addEventListener("dragleave", () => drop.classList.remove("over"));
    drop.addEventListener("drop", (event) => {
      event.preventDefault();
      drop.classList.remove("over");
      for (const file of event.dataTransfer.files) if (file.type.startsWith("image/")) classify(file, file.name);
    });

    (async () => {
      if (!(await loadModels())) return;
      if (new URLSearchParams(location.search).has("demo")) {
        const photo = await (await fetch("/demo.jpg")).blob();
        await classify(photo, "demo.jpg");
        document.body.setAttribute("data-demo", "done");
      }
    })();
    </script>
    </body>
    </html>
    """#
}
