export function onRequestGet() {
  return new Response("hello from a Pages Function");
}
