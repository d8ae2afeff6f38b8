// A polling loop that never overlaps itself, pauses while the tab is hidden and can be
// poked to run at once (after an action) or sped up (while a job runs).

export class Poller {
  constructor(task, intervalMs) {
    this.task = task;
    this.intervalMs = intervalMs;
    this.timer = null;
    this.running = false;
    this.again = false;
    document.addEventListener("visibilitychange", () => {
      if (!document.hidden) this.now();
    });
  }

  start() {
    this.now();
    return this;
  }

  setInterval(ms) {
    if (ms === this.intervalMs) return;
    this.intervalMs = ms;
    this.schedule();
  }

  async now() {
    if (this.running) {
      this.again = true;
      return;
    }
    clearTimeout(this.timer);
    this.running = true;
    try {
      await this.task();
    } catch (error) {
      console.error(error);
    } finally {
      this.running = false;
    }
    if (this.again) {
      this.again = false;
      this.now();
    } else {
      this.schedule();
    }
  }

  schedule() {
    clearTimeout(this.timer);
    if (this.running) return;
    this.timer = setTimeout(() => (document.hidden ? this.schedule() : this.now()), this.intervalMs);
  }
}
