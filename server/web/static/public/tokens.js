// The reporter tokens this browser holds, by case code: they prove the reporter when rating.
const KEY = "gridops.public.tokens";

function all() {
  return JSON.parse(localStorage.getItem(KEY) || "{}");
}

export function keepReporterToken(code, token) {
  localStorage.setItem(KEY, JSON.stringify({ ...all(), [code]: token }));
}

export function reporterToken(code) {
  return all()[code];
}
