module.exports = eval("require")("../extract-worker/index.js");
