// Hello world in Go for the provided.al2023 runtime: a bootstrap binary that speaks the
// Lambda Runtime API itself (net/http and encoding/json only, so it builds with no module
// downloads). The console's Go blueprint ships it prebuilt (scripts/go-blueprint.sh);
// rebuild after changing it with:
//
//	CGO_ENABLED=0 GOOS=linux go build -o bootstrap . && zip function.zip bootstrap
package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
)

var runtimeAPI = "http://" + os.Getenv("AWS_LAMBDA_RUNTIME_API") + "/2018-06-01/runtime"

type response struct {
	StatusCode int    `json:"statusCode"`
	Body       string `json:"body"`
}

// handler is the function's code: it receives the event and returns the result.
func handler(event json.RawMessage) (any, error) {
	fmt.Println("Hello from Functory!", string(event))
	body, _ := json.Marshal("Hello from Lambda!")
	return response{StatusCode: 200, Body: string(body)}, nil
}

func post(path string, value any, errorType string) error {
	data, err := json.Marshal(value)
	if err != nil {
		return err
	}
	request, err := http.NewRequest(http.MethodPost, runtimeAPI+path, bytes.NewReader(data))
	if err != nil {
		return err
	}
	if errorType != "" {
		request.Header.Set("Lambda-Runtime-Function-Error-Type", errorType)
	}
	answer, err := http.DefaultClient.Do(request)
	if err != nil {
		return err
	}
	defer answer.Body.Close()
	_, err = io.Copy(io.Discard, answer.Body)
	return err
}

func main() {
	for {
		next, err := http.Get(runtimeAPI + "/invocation/next")
		if err != nil {
			fmt.Fprintln(os.Stderr, "Runtime API unreachable:", err)
			os.Exit(1)
		}
		requestID := next.Header.Get("Lambda-Runtime-Aws-Request-Id")
		event, err := io.ReadAll(next.Body)
		next.Body.Close()
		if err != nil {
			fmt.Fprintln(os.Stderr, "reading the event:", err)
			os.Exit(1)
		}
		result, err := handler(event)
		if err != nil {
			failure := map[string]string{"errorType": fmt.Sprintf("%T", err), "errorMessage": err.Error()}
			err = post("/invocation/"+requestID+"/error", failure, failure["errorType"])
		} else {
			err = post("/invocation/"+requestID+"/response", result, "")
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "Runtime API unreachable:", err)
			os.Exit(1)
		}
	}
}
