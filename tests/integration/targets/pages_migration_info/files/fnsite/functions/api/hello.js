export function onRequest() {
  return new Response("hello");
}
