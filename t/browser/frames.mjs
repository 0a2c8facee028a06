// The frame number the test sources of t/76 and t/77 show (Media.pm's
// make_frame_counter: ten blocks across the top, block i white when bit i
// is set), read off a <video> in the page or off a region of an image (a
// thumbnail's tile).  An init script: it defines window.burnedIn(video or
// image[, x, y, w, h]) and window.frameShown(videos), which waits until
// each video has painted the frame it settled on.
export const FRAME_READER = `
window.burnedIn = (src, x = 0, y = 0, w = src.videoWidth, h = src.videoHeight) => {
  const c = document.createElement('canvas');
  c.width = w;
  c.height = h;
  const g = c.getContext('2d');
  g.drawImage(src, x, y, w, h, 0, 0, w, h);
  let n = 0;
  for (let i = 0; i < 10; i++) {
    const px = g.getImageData(Math.round(((i * 32 + 16) * w) / 320), Math.round((40 * h) / 240), 1, 1).data;
    if (px[0] > 128) n += 2 ** i;
  }
  return n;
};
window.frameShown = async (vs) => {
  const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
  for (let i = 0; i < 200 && vs.some((v) => v.seeking || v.readyState < 2); i++) await sleep(50);
  await Promise.all(vs.map((v) => new Promise((r) => {
    if (v.requestVideoFrameCallback) v.requestVideoFrameCallback(() => r());
    setTimeout(r, 400);
  })));
};
`;
