// What the public forms' free text may hold, as the server says (the city's settings decide it): each text
// field gets its maxlength and a counter of the characters used, so nothing typed is refused on sending.
import { fetchInCity } from "/static/api.js";
import { el } from "/static/case.js";

let limits = null;

export function loadLimits() {
  limits ??= fetchInCity("/api/public/limits").then((answer) => answer.json());
  return limits;
}

export function limitLength(field, maxLength) {
  field.maxLength = maxLength;
  const counter = el("span", { class: "counter muted", "aria-live": "polite" });
  const count = () => (counter.textContent = `${field.value.length}/${maxLength} 字`);
  field.addEventListener("input", count);
  count();
  field.after(counter);
}
