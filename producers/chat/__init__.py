"""The real-time chat gateway: Socket.IO over WebSocket, every message judged by the pipeline."""
