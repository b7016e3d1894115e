# frozen_string_literal: true

# Functory's Ruby runtime: a Lambda Runtime API client for `file.method` and
# `file.Module::Class.method` handlers, called as `method(event:, context:)`.
#
# It behaves as AWS's Ruby runtime does where a function can tell: the load path and
# GEM_PATH (the zip's vendor/bundle and the layers' /opt/ruby), the context object, one
# log event per `puts` or Logger record, `Function<Class>` / `Init<Class>` error documents,
# and the environment ending after a critical error (NameError, NoMethodError, anything
# not a StandardError). Standard library only: it is all this runtime can count on, and
# `net/http` is left out because its load is a fifth of a cold start.

require 'json'
require 'logger'
require 'socket'
require 'stringio'

$stdout.sync = true
$stderr.sync = true
# Amazon Linux has the en_US.UTF-8 locale; a sandbox may not, and Ruby would fall back
# to US-ASCII for what it reads.
Encoding.default_external = Encoding::UTF_8

module FunctoryRuntime
  PREFIX = '/2018-06-01/runtime'
  RUNTIME_DIR = File.dirname(File.expand_path(__FILE__))
  # The standard errors whose class AWS puts in the Lambda-Runtime-Function-Error-Type
  # header; any other is reported there as a UserException (the body names it either way).
  NAMED_IN_HEADER = %w[
    ArgumentError NoMethodError Exception StandardError NameError LoadError SystemExit
    SystemStackError
  ].freeze
  MAX_FRAMES = 100

  # A keep-alive HTTP/1.1 client for the Runtime API, which answers with Content-Length.
  class RuntimeApi
    def initialize(address)
      host, port = address.to_s.split(':', 2)
      @host = host
      @port = Integer(port || 80)
      @socket = nil
      @buffer = String.new(encoding: Encoding::BINARY)
    end

    def request(method, path, body = '', headers = {})
      connect if @socket.nil?
      payload = body.to_s.b
      head = +"#{method} #{path} HTTP/1.1\r\nHost: #{@host}\r\nContent-Length: #{payload.bytesize}\r\n"
      headers.each { |name, value| head << "#{name}: #{value.to_s.delete("\r\n")}\r\n" }
      @socket.write(head.b << "\r\n".b << payload)
      read_response
    end

    private

    def connect
      200.times do
        @socket = TCPSocket.new(@host, @port)
        @socket.setsockopt(Socket::IPPROTO_TCP, Socket::TCP_NODELAY, 1)
        return
      rescue SystemCallError
        sleep 0.01
      end
      abort 'cannot reach the Runtime API'
    end

    def read_response
      fill until (split = @buffer.index("\r\n\r\n"))
      lines = @buffer.byteslice(0, split).split("\r\n")
      @buffer = @buffer.byteslice(split + 4, @buffer.bytesize)
      status = lines.shift.split(' ', 3)[1].to_i
      headers = {}
      lines.each do |line|
        name, value = line.split(':', 2)
        headers[name.strip.downcase] = value.to_s.strip
      end
      length = headers.fetch('content-length', '0').to_i
      fill while @buffer.bytesize < length
      body = @buffer.byteslice(0, length)
      @buffer = @buffer.byteslice(length, @buffer.bytesize)
      [status, headers, body]
    end

    def fill
      chunk = @socket.readpartial(1 << 20)
      @buffer << chunk
    rescue EOFError
      abort 'the Runtime API closed the connection'
    end
  end

  # What AWS's Ruby runtime passes as `context:`.
  class LambdaContext
    attr_reader :aws_request_id, :invoked_function_arn, :log_group_name, :log_stream_name,
                :function_name, :memory_limit_in_mb, :function_version, :identity,
                :client_context, :deadline_ms

    def initialize(headers)
      @aws_request_id = headers['lambda-runtime-aws-request-id']
      @invoked_function_arn = headers['lambda-runtime-invoked-function-arn']
      @deadline_ms = headers['lambda-runtime-deadline-ms'].to_i
      @function_name = ENV['AWS_LAMBDA_FUNCTION_NAME']
      @function_version = ENV['AWS_LAMBDA_FUNCTION_VERSION']
      @memory_limit_in_mb = ENV['AWS_LAMBDA_FUNCTION_MEMORY_SIZE']
      @log_group_name = ENV['AWS_LAMBDA_LOG_GROUP_NAME']
      @log_stream_name = ENV['AWS_LAMBDA_LOG_STREAM_NAME']
      @identity = parse_header(headers['lambda-runtime-cognito-identity'])
      @client_context = parse_header(headers['lambda-runtime-client-context'])
    end

    def get_remaining_time_in_millis
      remaining = @deadline_ms - Process.clock_gettime(Process::CLOCK_REALTIME, :millisecond)
      remaining.positive? ? remaining : 0
    end

    private

    def parse_header(value)
      value.nil? || value.empty? ? nil : JSON.parse(value)
    end
  end

  # An error as the function's caller sees it: `Function<TypeError>`, `Init<LoadError>`.
  class ErrorReport
    attr_reader :document

    def initialize(error, phase)
      @class_name = error.class.to_s
      @document = {
        errorMessage: FunctoryRuntime.utf8(error.message),
        errorType: "#{phase}<#{@class_name}>",
        stackTrace: FunctoryRuntime.user_frames(error)
      }
    end

    def header_type
      NAMED_IN_HEADER.include?(@class_name) ? @document[:errorType] : "Function<UserException>"
    end

    def log(headline)
      LogSink.event(headline)
      LogSink.event(JSON.pretty_generate(@document))
    end
  end

  # Text JSON can carry: a binary or broken string from user code must not stop the runtime.
  def self.utf8(value)
    text = value.to_s
    if text.encoding == Encoding::BINARY || text.encoding == Encoding::UTF_8
      text.dup.force_encoding(Encoding::UTF_8).scrub
    else
      text.encode(Encoding::UTF_8, invalid: :replace, undef: :replace)
    end
  end

  # The frames of the function's own code: the runtime's (and what called it) are cut.
  def self.user_frames(error)
    frames = error.backtrace_locations&.map(&:to_s) || error.backtrace || []
    frames.first(MAX_FRAMES).take_while { |frame| !frame.start_with?(RUNTIME_DIR) }.map { utf8(_1) }
  end

  # Writes one log event per call: the platform splits the output on "\n", so a message's
  # own line breaks travel as "\r" (as the Python runtime's records do). To the process's
  # standard output even if the function reassigns $stdout, as AWS's go to its log device.
  module LogSink
    LOCK = Mutex.new

    def self.event(message)
      text = FunctoryRuntime.utf8(message).chomp.gsub("\n", "\r")
      LOCK.synchronize { STDOUT.write("#{text}\n") }
      nil
    end

    # A Logger device (it needs #write and #close).
    def self.write(message)
      event(message)
    end

    def self.close; end

    def self.reopen(_log = nil); end
  end

  # The format of AWS's Ruby runtime: severity letter, time, pid, level, request id.
  class LogFormatter < ::Logger::Formatter
    def call(severity, time, progname, msg)
      stamp = time.utc.strftime('%Y-%m-%dT%H:%M:%S.%6N')
      format('%s, [%s #%d] %5s %s -- %s: %s', severity[0], stamp, Process.pid, severity,
             $_global_aws_request_id, progname, msg2str(msg))
    end
  end

  # Logger.new($stdout) (or $stderr, or nil) logs to the function's log, one event a record.
  module LoggerToLambda
    def initialize(logdev, *args, **options)
      if logdev.nil? || logdev.equal?($stdout) || logdev.equal?($stderr) ||
         logdev.equal?(STDOUT) || logdev.equal?(STDERR)
        logdev = LogSink
        options[:formatter] ||= LogFormatter.new
      end
      super(logdev, *args, **options)
    end
  end

  # `file.method` or `file.Module::Class.method`.
  class Handler
    attr_reader :file_name

    def initialize(spec)
      parts = spec.split('.')
      case parts.size
      when 2 then @file_name, @method_name = parts
      when 3 then @file_name, @class_name, @method_name = parts
      else
        raise ArgumentError, "Invalid handler #{parts}, must be of form FILENAME.METHOD or " \
                             'FILENAME.CLASS.METHOD where FILENAME corresponds with an existing ' \
                             'Ruby source file FILENAME.rb, CLASS is an optional module/class ' \
                             'namespace and METHOD is a callable method. If using CLASS, ' \
                             'METHOD must be a class-level method.'
      end
    end

    # [body, content type]; serialising is part of the user's code, as on AWS (a value
    # JSON cannot carry is a function error, not the runtime's).
    def call(event, context)
      receiver = @class_name ? Kernel.const_get(@class_name) : TOPLEVEL_BINDING.receiver
      result = receiver.__send__(@method_name, event: event, context: context)
      case result
      when StringIO, IO then [result.read.to_s, 'application/unknown']
      else [result.to_json, 'application/json']
      end
    end
  end

  # The AWS paths the runtime name implies (ruby3.2 -> 3.2.0), unless the function set its own.
  def self.apply_paths
    version = ENV.fetch('AWS_EXECUTION_ENV', '')[/ruby(\d+\.\d+)/, 1] || RUBY_VERSION[/\A\d+\.\d+/]
    abi = "#{version}.0"
    task = ENV.fetch('LAMBDA_TASK_ROOT', '/var/task')
    # The interpreter's own gem directories stand where AWS lists /var/runtime's.
    system = Gem.default_path.reject { |dir| dir == Gem.user_dir || !File.directory?(dir) }
    ENV['GEM_HOME'] ||= Gem.default_dir
    ENV['GEM_PATH'] ||= ["#{task}/vendor/bundle/ruby/#{abi}", "/opt/ruby/gems/#{abi}", *system].join(':')
    ENV['RUBYLIB'] ||= "#{task}:/opt/ruby/lib"
    entries = ENV['RUBYLIB'].split(':').reject(&:empty?)
    $LOAD_PATH.unshift(*entries.reject { |entry| $LOAD_PATH.include?(entry) })
    Gem.clear_paths
  end

  # A standby environment: the interpreter is loaded; wait for a function, then take its
  # variables (and the code mounted over the empty /var/task it started in).
  def self.await_assignment(api)
    _status, _headers, body = api.request('GET', "#{PREFIX}/functory/assignment")
    ENV.delete('_FUNCTORY_STANDBY')
    JSON.parse(body).fetch('env').each { |name, value| ENV[name] = value }
    Dir.chdir(ENV.fetch('LAMBDA_TASK_ROOT', '/var/task'))
  end

  def self.post_error(api, path, report)
    api.request('POST', path, JSON.generate(report.document),
                'Content-Type' => 'application/json',
                'Lambda-Runtime-Function-Error-Type' => report.header_type)
  end

  def self.install_logging
    ::Logger.prepend(LoggerToLambda)
    # Kernel#puts (not IO#puts) is one log event per call, as on AWS.
    ::Kernel.module_eval do
      private

      def puts(*objects)
        lines = objects.flatten.map { |object| object.to_s.chomp }
        FunctoryRuntime::LogSink.event(lines.join("\n"))
      end
    end
  end

  def self.main
    api = RuntimeApi.new(ENV.fetch('AWS_LAMBDA_RUNTIME_API'))
    install_logging
    await_assignment(api) if ENV['_FUNCTORY_STANDBY']
    handler_name = ENV['_HANDLER']
    begin
      apply_paths
      handler = Handler.new(handler_name)
      require handler.file_name
    rescue Exception => e # syntax and load errors too
      report = ErrorReport.new(e, 'Init')
      report.log("Init error when loading handler #{handler_name}")
      post_error(api, "#{PREFIX}/init/error", report)
      exit(252)
    end
    loop { exit(255) unless invoke_next(api, handler) }
  end

  # One invocation; false once the environment must end (a critical error, as on AWS).
  def self.invoke_next(api, handler)
    _status, headers, body = api.request('GET', "#{PREFIX}/invocation/next")
    request_id = headers['lambda-runtime-aws-request-id']
    $_global_aws_request_id = request_id
    trace = headers['lambda-runtime-trace-id']
    trace.nil? || trace.empty? ? ENV.delete('_X_AMZN_TRACE_ID') : ENV['_X_AMZN_TRACE_ID'] = trace
    begin
      context = LambdaContext.new(headers)
      text = body.force_encoding(Encoding::UTF_8)
      event = headers['content-type'] == 'application/json' ? JSON.parse(text) : text
      payload, content_type = handler.call(event, context)
    rescue StandardError => e
      critical = e.is_a?(NameError) # NoMethodError too: the handler may be missing
    rescue Exception => e # exit, stack overflow, ScriptError: critical, as on AWS
      critical = true
    end
    if e
      report = ErrorReport.new(e, 'Function')
      report.log(critical ? 'Critical exception from handler' : 'Error raised from handler method')
      post_error(api, "#{PREFIX}/invocation/#{request_id}/error", report)
      return !critical
    end
    api.request('POST', "#{PREFIX}/invocation/#{request_id}/response", payload,
                'Content-Type' => content_type)
    true
  end
end

FunctoryRuntime.main
