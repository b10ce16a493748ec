import Hummingbird
import NIOCore

/// The dashboard's one style sheet and one script, served from the binary: no CDN, no build step,
/// works offline. The script only adds to pages that already work as plain HTML (live numbers,
/// the sign-in form's JSON post, sorting and exporting tables).
enum DashboardAssets {
    static func register(on router: Router<MeterrRequestContext>) {
        router.get("assets/meterr.css") { _, _ in serve(css, type: "text/css; charset=utf-8") }
        router.get("assets/meterr.js") { _, _ in serve(script, type: "text/javascript; charset=utf-8") }
    }

    static func serve(_ text: String, type: String) -> Response {
        Response(
            status: .ok, headers: [.contentType: type, .cacheControl: "max-age=300"],
            body: .init(byteBuffer: ByteBuffer(string: text)))
    }

    static let css = #"""
        :root { --ink: #1b1f24; --muted: #4f5965; --line: #d5dbe1; --bg: #f6f8fa; --card: #fff;
          --accent: #0b5cad; --accent2: #7a3e9d; --good: #1a7f37; --warn: #9a6700; --bad: #c62828; }
        * { box-sizing: border-box; }
        body { margin: 0; font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif;
          color: var(--ink); background: var(--bg); }
        a { color: var(--accent); }
        :focus-visible { outline: 3px solid #f5a623; outline-offset: 2px; }
        .skip { position: absolute; left: -999px; } .skip:focus { left: 8px; top: 8px; background: #fff; padding: 4px; }
        header { background: #14202e; color: #fff; }
        header nav { display: flex; flex-wrap: wrap; align-items: center; gap: 4px 14px; padding: 8px 20px; }
        header .brand { font-weight: 700; font-size: 18px; margin-right: 12px; color: #fff; text-decoration: none; }
        header nav a { color: #dce6f0; text-decoration: none; padding: 6px 4px; border-bottom: 2px solid transparent; }
        header nav a[aria-current="page"] { color: #fff; border-bottom-color: #f5a623; }
        header .who { margin-left: auto; color: #dce6f0; font-size: 13px; display: flex; gap: 8px; align-items: center; }
        header .who button { background: transparent; color: #fff; border: 1px solid #8aa0b6; border-radius: 4px;
          padding: 3px 8px; cursor: pointer; }
        main { max-width: 1240px; margin: 0 auto; padding: 18px 20px 40px; }
        h1 { font-size: 22px; margin: 4px 0 14px; } h2 { font-size: 17px; margin: 0 0 10px; }
        .cards { display: grid; grid-template-columns: repeat(auto-fit, minmax(210px, 1fr)); gap: 12px; margin-bottom: 14px; }
        .card, section.panel { background: var(--card); border: 1px solid var(--line); border-radius: 8px; padding: 14px 16px; }
        .card .label { color: var(--muted); font-size: 13px; }
        .card .value { font-size: 26px; font-weight: 650; font-variant-numeric: tabular-nums; }
        .card .sub { color: var(--muted); font-size: 13px; }
        .grid2 { display: grid; grid-template-columns: repeat(auto-fit, minmax(360px, 1fr)); gap: 12px; margin-bottom: 12px; }
        section.panel { margin-bottom: 12px; overflow-x: auto; }
        table { border-collapse: collapse; width: 100%; font-variant-numeric: tabular-nums; }
        th, td { text-align: left; padding: 5px 8px; border-bottom: 1px solid var(--line); vertical-align: top; }
        thead th { font-size: 12px; text-transform: uppercase; letter-spacing: .03em; color: var(--muted); }
        tbody th { font-weight: 500; }
        td.num, th.num { text-align: right; white-space: nowrap; }
        .nowrap { white-space: nowrap; }
        caption { text-align: left; font-weight: 600; padding-bottom: 6px; }
        .sr-only { position: absolute; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0); white-space: nowrap; }
        svg.chart { width: 100%; height: auto; display: block; }
        svg.chart .bar { fill: var(--accent); } svg.chart .bar.alt { fill: var(--accent2); }
        svg.chart .seg.s0, .swatch.s0 { fill: #0969da; background: #0969da; }
        svg.chart .seg.s1, .swatch.s1 { fill: #8250df; background: #8250df; }
        svg.chart .seg.s2, .swatch.s2 { fill: #1a7f37; background: #1a7f37; }
        svg.chart .seg.s3, .swatch.s3 { fill: #bf8700; background: #bf8700; }
        svg.chart .seg.s4, .swatch.s4 { fill: #cf222e; background: #cf222e; }
        svg.chart .seg.s5, .swatch.s5 { fill: #8c959f; background: #8c959f; }
        ul.legend { list-style: none; display: flex; flex-wrap: wrap; gap: 4px 14px; padding: 0; margin: 4px 0 12px; font-size: 13px; }
        .swatch { display: inline-block; width: 10px; height: 10px; border-radius: 2px; margin-right: 5px; }
        svg.chart .axis { stroke: var(--line); } svg.chart text { fill: var(--muted); font-size: 11px; }
        form.filters { display: flex; flex-wrap: wrap; gap: 8px 12px; align-items: end; margin-bottom: 12px; }
        form.filters label, form.stack label { display: flex; flex-direction: column; font-size: 13px; color: var(--muted); gap: 2px; }
        form.stack { display: grid; gap: 10px; max-width: 560px; }
        input, select, textarea, button { font: inherit; }
        input, select, textarea { border: 1px solid #8c959f; border-radius: 4px; padding: 5px 7px; color: var(--ink); background: #fff; }
        textarea { min-height: 160px; font-family: ui-monospace, monospace; font-size: 13px; }
        button, .button { background: var(--accent); color: #fff; border: 0; border-radius: 5px; padding: 7px 14px;
          cursor: pointer; text-decoration: none; display: inline-block; }
        button.danger { background: var(--bad); } button.quiet { background: #eaeef2; color: var(--ink); }
        .muted { color: var(--muted); } .bad { color: var(--bad); } .good { color: var(--good); } .warn { color: var(--warn); }
        .notice { background: #fff8c5; border: 1px solid #d4a72c; border-radius: 6px; padding: 10px 12px; margin-bottom: 12px; }
        .secret { font-family: ui-monospace, monospace; background: #eef6ee; border: 1px dashed var(--good); padding: 6px 8px;
          word-break: break-all; display: block; margin-top: 6px; }
        .error { background: #ffebe9; border: 1px solid var(--bad); border-radius: 6px; padding: 10px 12px; margin: 8px 0; }
        progress { width: 100%; min-width: 140px; height: 14px; }
        progress.warn { accent-color: var(--warn); } progress.bad { accent-color: var(--bad); }
        progress.warn::-webkit-progress-value { background: var(--warn); }
        progress.bad::-webkit-progress-value { background: var(--bad); }
        progress.warn::-moz-progress-bar { background: var(--warn); }
        progress.bad::-moz-progress-bar { background: var(--bad); }
        .live { font-size: 13px; color: var(--muted); } .live .dot { color: var(--good); }
        .pager { display: flex; gap: 12px; align-items: center; margin-top: 10px; }
        .signin { max-width: 380px; margin: 70px auto; }
        code { font-family: ui-monospace, monospace; font-size: 13px; }
        .tag { display: inline-block; background: #eaeef2; border-radius: 10px; padding: 0 7px; margin: 1px; font-size: 12px; }
        .status-failed { color: var(--bad); font-weight: 600; }
        form.inline { display: inline; }
        th.sortable { cursor: pointer; } th[aria-sort=ascending]::after { content: " ▲"; }
        th[aria-sort=descending]::after { content: " ▼"; } .table-export { margin-top: 8px; font-size: 13px; }
        @media print { header, .no-print, .skip { display: none; } body { background: #fff; } .panel { border: 0; } }
        @media (prefers-color-scheme: dark) {
          :root { --ink: #e6edf3; --muted: #9da7b3; --line: #30363d; --bg: #0d1117; --card: #161b22;
            --accent: #58a6ff; --accent2: #d2a8ff; --good: #3fb950; --warn: #d29922; --bad: #ff7b72; color-scheme: dark; }
          input, select, textarea { background: #0d1117; border-color: #6e7681; }
          button.quiet, .tag { background: #21262d; color: var(--ink); }
          .notice { background: #2d2308; border-color: #9e6a03; }
          .secret { background: #0f2417; }
          .error { background: #3b1219; }
          .skip:focus { background: var(--card); }
          button, .button { color: #0d1117; }
        }
        """#

    static let script = #"""
        "use strict";
        // meterr dashboard: the sign-in form's JSON post, and live numbers on the overview.
        (function () {
          function nanos(text) {
            if (!text) return 0n;
            var negative = text[0] === "-"; if (negative) text = text.slice(1);
            var parts = text.split("."); var fraction = (parts[1] || "").padEnd(9, "0").slice(0, 9);
            var value = BigInt(parts[0] || "0") * 1000000000n + BigInt(fraction);
            return negative ? -value : value;
          }
          function decimal(value) {
            var negative = value < 0n; if (negative) value = -value;
            var fraction = (value % 1000000000n).toString().padStart(9, "0");
            return (negative ? "-" : "") + (value / 1000000000n).toString() + "." + fraction;
          }
          function grouped(digits) { return digits.replace(/\B(?=(\d{3})+(?!\d))/g, ","); }
          function usd(value) {
            var negative = value < 0n; if (negative) value = -value;
            var sign = negative ? "-" : "";
            if (value === 0n) return "$0.00";
            if (value < 10000000n) {
              var fraction = ((value + 500n) / 1000n).toString().padStart(6, "0");
              while (fraction.length > 2 && fraction.endsWith("0")) fraction = fraction.slice(0, -1);
              return sign + "$0." + fraction;
            }
            var cents = (value + 5000000n) / 10000000n;
            return sign + "$" + grouped((cents / 100n).toString()) + "." + (cents % 100n).toString().padStart(2, "0");
          }
          function addMoney(element, delta) {
            var total = nanos(element.dataset.usd) + nanos(delta);
            element.dataset.usd = decimal(total);
            element.textContent = usd(total);
          }
          function addCount(element, delta) {
            var total = BigInt(element.dataset.count || "0") + BigInt(delta);
            element.dataset.count = total.toString();
            element.textContent = grouped(total.toString());
          }

          var signin = document.getElementById("signin");
          if (signin) {
            signin.addEventListener("submit", function (event) {
              event.preventDefault();
              var message = document.getElementById("signin-message");
              var body = { email: signin.email.value, password: signin.password.value };
              if (signin.org && signin.org.value) body.org = signin.org.value;
              fetch("/auth/login", { method: "POST", headers: { "content-type": "application/json" },
                body: JSON.stringify(body), credentials: "same-origin" })
                .then(function (response) {
                  if (response.ok) {
                    var next = new URLSearchParams(location.search).get("next") || "/";
                    // Only a path of this site: "//host" and "/\host" would leave it.
                    location.assign(/^\/(?![\/\\])/.test(next) ? next : "/");
                    return;
                  }
                  return response.json().then(function (json) {
                    message.textContent = (json.error && json.error.message) || "Sign-in failed";
                  });
                })
                .catch(function () { message.textContent = "meterr did not answer"; });
            });
          }

          if (document.body.dataset.live === "usage" && window.EventSource) {
            var status = document.getElementById("live-status");
            var source = new EventSource("/events");
            source.addEventListener("open", function () { status.textContent = "Live: connected"; });
            source.addEventListener("error", function () { status.textContent = "Live: reconnecting…"; });
            source.addEventListener("usage", function (message) {
              var delta = JSON.parse(message.data);
              document.querySelectorAll("[data-live-usd]").forEach(function (element) {
                var key = element.dataset.liveUsd;
                if (key === "total") addMoney(element, delta.cost_usd);
                else if (key === "today") addMoney(element, delta.today_cost_usd);
                else if (key.startsWith("provider:") && delta.by_provider[key.slice(9)])
                  addMoney(element, delta.by_provider[key.slice(9)]);
                else if (key.startsWith("model:") && delta.by_model[key.slice(6)])
                  addMoney(element, delta.by_model[key.slice(6)]);
              });
              document.querySelectorAll("[data-live-count]").forEach(function (element) {
                var key = element.dataset.liveCount;
                if (key === "requests") addCount(element, delta.requests);
                else if (key === "today_requests") addCount(element, delta.today_requests);
                else if (key === "tokens") addCount(element, delta.input_tokens + delta.output_tokens);
                else if (key === "input") addCount(element, delta.input_tokens);
                else if (key === "output") addCount(element, delta.output_tokens);
                else if (key === "cache_read") addCount(element, delta.cache_read_tokens);
              });
              if (delta.requests === 0) return;
              var updates = Number(document.body.dataset.updates || "0") + 1;
              document.body.dataset.updates = String(updates);
              document.body.dataset.lastUpdateAt = String(performance.timeOrigin + performance.now());
              status.textContent = "Live: " + delta.requests + " new call" + (delta.requests === 1 ? "" : "s") +
                " at " + new Date().toLocaleTimeString();
            });
          }

          // Every table: a click on a column's header sorts by it (numbers by their exact value), and an
          // "Export CSV" button downloads the rows as shown (money as exact decimals).
          function cellValue(cell) {
            if (!cell) return "";
            if (cell.dataset.usd !== undefined && cell.dataset.usd !== "") return Number(cell.dataset.usd);
            if (cell.dataset.count !== undefined) return Number(cell.dataset.count);
            var text = cell.textContent.trim();
            var number = text.replace(/^[$]/, "").replace(/,/g, "").replace(/ (ms|%)$/, "");
            return number !== "" && !isNaN(Number(number)) ? Number(number) : text.toLowerCase();
          }
          function csvField(text) {
            text = String(text);
            if (/^[=+\-@]/.test(text) && isNaN(Number(text))) text = "'" + text;
            return /[",\n]/.test(text) ? '"' + text.replace(/"/g, '""') + '"' : text;
          }
          function exportText(cell) {
            if (cell.dataset.usd !== undefined && cell.dataset.usd !== "") return cell.dataset.usd;
            return cell.textContent.replace(/\s+/g, " ").trim();
          }
          window.meterrTableCSV = function (table) {
            var lines = [];
            table.querySelectorAll("thead tr, tbody tr, tfoot tr").forEach(function (row) {
              lines.push(Array.from(row.children).map(function (cell) { return csvField(exportText(cell)); }).join(","));
            });
            return lines.join("\n") + "\n";
          };
          document.querySelectorAll("table").forEach(function (table, index) {
            var head = table.tHead;
            var body = table.tBodies[0];
            if (!head || !body || body.rows.length === 0) return;
            Array.from(head.rows[0].cells).forEach(function (header, column) {
              header.classList.add("sortable");
              header.tabIndex = 0;
              function sort() {
                var ascending = header.getAttribute("aria-sort") !== "ascending";
                Array.from(head.rows[0].cells).forEach(function (other) { other.removeAttribute("aria-sort"); });
                header.setAttribute("aria-sort", ascending ? "ascending" : "descending");
                var rows = Array.from(body.rows);
                rows.sort(function (a, b) {
                  var x = cellValue(a.cells[column]), y = cellValue(b.cells[column]);
                  var order = typeof x === "number" && typeof y === "number" ? x - y : String(x).localeCompare(String(y));
                  return ascending ? order : -order;
                });
                rows.forEach(function (row) { body.appendChild(row); });
              }
              header.addEventListener("click", sort);
              header.addEventListener("keydown", function (event) { if (event.key === "Enter") sort(); });
            });
            var button = document.createElement("button");
            button.type = "button";
            button.className = "quiet table-export no-print";
            button.textContent = "Export CSV";
            button.addEventListener("click", function () {
              var link = document.createElement("a");
              link.href = URL.createObjectURL(new Blob([window.meterrTableCSV(table)], { type: "text/csv" }));
              link.download = "meterr-" + (location.pathname.replace(/\W+/g, "") || "overview") + "-" +
                (table.id || index) + ".csv";
              document.body.appendChild(link);
              link.click();
              link.remove();
            });
            table.insertAdjacentElement("afterend", button);
          });
        })();
        """#
}
