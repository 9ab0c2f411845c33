"""Sans-IO wire codec of the RocketMQ remoting protocol: bytes in, commands out. No sockets, no asyncio."""
