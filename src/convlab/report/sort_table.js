// Sorts a table by the clicked header: numbers (a cell's data-v, else its text) before text, click again to
// reverse. Inlined into report.html by report.html.j2.
document.querySelectorAll("table.sortable th").forEach((th) => th.addEventListener("click", () => {
  const table = th.closest("table"), body = table.tBodies[0], col = th.cellIndex;
  const dir = th.dataset.dir === "asc" ? "desc" : "asc";
  table.querySelectorAll("th").forEach((h) => delete h.dataset.dir);
  th.dataset.dir = dir;
  const key = (row) => {
    const cell = row.cells[col], text = cell.dataset.v ?? cell.textContent.trim();
    const number = parseFloat(text.replace(/,/g, ""));
    return isNaN(number) ? text : number;
  };
  const order = (a, b) => typeof a === "number" ? (typeof b === "number" ? a - b : -1)
                                                 : (typeof b === "number" ? 1 : a.localeCompare(b));
  const rows = [...body.rows].sort((a, b) => (dir === "asc" ? 1 : -1) * order(key(a), key(b)));
  body.append(...rows);
}));
